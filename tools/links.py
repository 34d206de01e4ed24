"""Check (and fix) every relative link in the repository's Markdown.

The convention (CLAUDE.md, "Links from prose into code"): a link into Python code names
the symbol in backticks and carries the symbol's lines,

    [`softmax`](../code/probability.py#L37-L46)

so GitHub lands on exactly the definition. This module checks that

- every relative link resolves to a file or folder inside the repository;
- a ``#Lx-Ly`` fragment on a ``.py`` link is exactly the definition of the symbol named by
  the link text (``name``, ``Class`` or ``Class.method``; decorators included);
- a ``.py`` link whose text names a symbol of that file carries its fragment;
- a ``#heading`` fragment on a Markdown link (or a bare ``#heading``) names a real heading.

    python -m tools.links --check    # report problems, exit 1 if any (make lint)
    python -m tools.links --fix      # rewrite #Lx-Ly fragments from the symbol names (make links)
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".venv", "node_modules", ".pytest_cache", ".hypothesis", ".ruff_cache",
             "build", "dist", "__pycache__", ".import_linter_cache"}

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})", re.M)
LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
LINES = re.compile(r"^L(\d+)(?:-L(\d+))?$")
SYMBOL_TEXT = re.compile(r"^`([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?:\(\))?`$")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...


@dataclass
class Link:
    file: Path      # the Markdown file
    line: int       # 1-based line of the link
    text: str       # link text
    target: str     # as written
    start: int      # offset of the target in the file text
    end: int


def markdown_files(root: Path = ROOT) -> list[Path]:
    out = []
    for p in sorted(root.rglob("*.md")):
        rel = p.relative_to(root).parts
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel):
            continue
        out.append(p)
    return out


def _blank_fences(text: str) -> str:
    """Replace fenced code blocks with spaces (offsets preserved): links there are code."""
    out = list(text)
    lines = text.splitlines(keepends=True)
    pos = 0
    fence = None
    for line in lines:
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(2)[0] * 3
            start = pos
        elif fence is not None and line.strip().startswith(fence):
            for i in range(start, pos + len(line)):
                if out[i] != "\n":
                    out[i] = " "
            fence = None
        pos += len(line)
    return "".join(out)


def _blank_inline_examples(text: str) -> str:
    """Blank inline code that shows a link (`` `[x](y.py)` ``): an example, not a link.

    Code spans are read as CommonMark does: a run of n backticks opens a span that the next
    run of exactly n backticks closes.
    """
    out = list(text)
    i = 0
    while (m := re.compile(r"`+").search(text, i)) is not None:
        run = m.group(0)
        close = re.compile(r"(?<!`)" + run + r"(?!`)").search(text, m.end())
        if close is None:
            i = m.end()
            continue
        if "](" in text[m.end():close.start()]:
            for k in range(m.start(), close.end()):
                if out[k] != "\n":
                    out[k] = " "
        i = close.end()
    return "".join(out)


def find_links(md: Path) -> list[Link]:
    text = md.read_text(encoding="utf-8")
    scan = _blank_inline_examples(_blank_fences(text))
    links = []
    for m in LINK.finditer(scan):
        target = m.group(3)
        if EXTERNAL.match(target):
            continue
        line = scan.count("\n", 0, m.start()) + 1
        links.append(Link(md, line, m.group(2), target, m.start(3), m.end(3)))
    return links


def github_slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    h = re.sub(r"`|\*\*|__", "", heading.strip()).lower()
    h = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", h)  # a link in a heading keeps its text
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


@cache
def anchors(md: Path) -> frozenset[str]:
    text = _blank_fences(md.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out = set()
    for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        slug = github_slug(m.group(1))
        n = seen.get(slug, 0)
        out.add(slug if n == 0 else f"{slug}-{n}")
        seen[slug] = n + 1
    return frozenset(out)


@cache
def symbols(py: Path) -> dict[str, tuple[int, int]]:
    """``{"name": (first, last)}`` for top-level defs/classes/assignments and methods."""
    tree = ast.parse(py.read_text(encoding="utf-8"))
    out: dict[str, tuple[int, int]] = {}

    def span(node: ast.AST) -> tuple[int, int]:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        return first, node.end_lineno

    def visit(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out[prefix + node.name] = span(node)
                if isinstance(node, ast.ClassDef):
                    visit(node.body, prefix + node.name + ".")
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and not prefix:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name):
                        out[t.id] = span(node)

    visit(tree.body, "")
    return out


def expected_fragment(link: Link, path: Path) -> str | None:
    """The right ``L..`` fragment for a symbol link, or None when the text names no symbol."""
    m = SYMBOL_TEXT.match(link.text.strip())
    if not m:
        return None
    syms = symbols(path)
    name = m.group(1)
    if name not in syms:
        return None
    a, b = syms[name]
    return f"L{a}-L{b}"


def check_link(link: Link, root: Path = ROOT) -> str | None:
    """A problem description, or None when the link is fine."""
    where = f"{link.file.relative_to(root)}:{link.line}"
    path_part, _, fragment = link.target.partition("#")
    if not path_part:
        target = link.file
    else:
        target = (link.file.parent / path_part).resolve()
        try:
            target.relative_to(root)
        except ValueError:
            return f"{where}: link {link.target!r} leaves the repository"
        if not target.exists():
            return f"{where}: link {link.target!r}: no such file"
    if target.suffix == ".py" and target.is_file():
        m = SYMBOL_TEXT.match(link.text.strip())
        want = expected_fragment(link, target)
        if fragment:
            if not LINES.match(fragment):
                return (f"{where}: {link.target!r}: a fragment on a .py link must be #Lstart-Lend "
                        "(GitHub ignores other fragments)")
            if not m:
                return (f"{where}: {link.target!r}: a line fragment needs link text naming the symbol "
                        f"in backticks, got [{link.text}]")
            if want is None:
                return f"{where}: [{link.text}]: no symbol {m.group(1)!r} in {path_part}"
            if fragment != want:
                return f"{where}: [{link.text}]({link.target}): the definition is at #{want} (run `make links`)"
        elif want is not None:
            return f"{where}: [{link.text}]({link.target}): add #{want} (run `make links`)"
    elif fragment:
        if target.suffix == ".md":
            if fragment not in anchors(target):
                return f"{where}: {link.target!r}: no heading #{fragment} in {target.name}"
        elif not (target.suffix == ".py"):
            return f"{where}: {link.target!r}: fragments are only checked on .md and .py links"
    return None


def check(root: Path = ROOT) -> list[str]:
    symbols.cache_clear()
    anchors.cache_clear()
    problems = []
    for md in markdown_files(root):
        for link in find_links(md):
            p = check_link(link, root)
            if p:
                problems.append(p)
    return problems


def fix(root: Path = ROOT) -> int:
    """Rewrite the fragments of symbol links from the current code; returns links changed."""
    symbols.cache_clear()
    changed = 0
    for md in markdown_files(root):
        text = md.read_text(encoding="utf-8")
        edits = []
        for link in find_links(md):
            path_part, _, fragment = link.target.partition("#")
            if not path_part.endswith(".py"):
                continue
            target = (md.parent / path_part).resolve()
            if not target.is_file():
                continue
            want = expected_fragment(link, target)
            if want is not None and fragment != want:
                edits.append((link.start, link.end, f"{path_part}#{want}"))
        for start, end, new in sorted(edits, reverse=True):
            text = text[:start] + new + text[end:]
        if edits:
            md.write_text(text, encoding="utf-8")
            changed += len(edits)
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--check", action="store_true", help="report broken links (default)")
    g.add_argument("--fix", action="store_true", help="rewrite #Lx-Ly fragments from symbol names")
    args = ap.parse_args(argv)
    if args.fix:
        n = fix()
        print(f"links: rewrote {n} fragment(s)")
    problems = check()
    for p in problems:
        print(p)
    print(f"links: {len(problems)} problem(s) in {len(markdown_files())} Markdown files")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
