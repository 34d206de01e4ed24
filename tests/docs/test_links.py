"""Every relative link in every Markdown file resolves; symbol links land on their symbol."""

import textwrap

from tools import links


def test_every_link_in_the_repository_resolves():
    problems = links.check()
    assert problems == [], "\n".join(problems)


def _tree(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "m.py").write_text(textwrap.dedent('''\
        import numpy as np

        TABLE = {"a": 1}


        def f(x):
            return x


        class C:
            @staticmethod
            def g():
                return 1
        '''))
    (tmp_path / "other.md").write_text("# Title\n\n## Some `code` heading!\n")
    return tmp_path


def _problems(root, body):
    md = root / "note.md"
    md.write_text(body)
    links.symbols.cache_clear()
    links.anchors.cache_clear()
    return [p for lk in links.find_links(md) if (p := links.check_link(lk, root))]


def test_good_links_pass(tmp_path):
    root = _tree(tmp_path)
    body = ("[`f`](code/m.py#L6-L7) [`C.g`](code/m.py#L11-L13) [`C`](code/m.py#L10-L13) "
            "[`TABLE`](code/m.py#L3-L3) [m](code/m.py) [o](other.md#some-code-heading) "
            "[t](#top) ![fig](other.md) [web](https://example.com/x#y)\n\n# Top\n")
    assert _problems(root, body) == []


def test_wrong_lines_missing_files_and_anchors_are_reported(tmp_path):
    root = _tree(tmp_path)
    probs = _problems(root, "[`f`](code/m.py#L5-L7)\n[`h`](code/m.py#L1-L2)\n"
                            "[x](code/nope.py)\n[o](other.md#nothing)\n[`f`](code/m.py)\n"
                            "[lines](code/m.py#L6-L7)\n[`f`](code/m.py#f)\n[up](../outside.md)\n")
    joined = "\n".join(probs)
    assert len(probs) == 8, joined
    assert "the definition is at #L6-L7" in joined
    assert "no symbol 'h'" in joined
    assert "no such file" in joined
    assert "no heading #nothing" in joined
    assert "add #L6-L7" in joined
    assert "needs link text naming the symbol" in joined
    assert "must be #Lstart-Lend" in joined
    assert "leaves the repository" in joined


def test_links_inside_code_fences_are_ignored(tmp_path):
    root = _tree(tmp_path)
    assert _problems(root, "```markdown\n[`f`](code/nope.py#L1-L2)\n```\n") == []


def test_fix_rewrites_fragments_after_code_moves(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    md = root / "note.md"
    md.write_text("See [`f`](code/m.py#L1-L2) and [`C.g`](code/m.py).\n")
    n = links.fix(root)
    assert n == 2
    assert md.read_text() == "See [`f`](code/m.py#L6-L7) and [`C.g`](code/m.py#L11-L13).\n"
    assert links.check(root) == []


def test_inline_code_showing_a_link_is_an_example(tmp_path):
    root = _tree(tmp_path)
    assert _problems(root, "Write `[x](code/nope.py)` or ``[`f`](code/m.py#L1-L2)``.\n") == []
    # but a real link whose text is inline code is still checked
    assert len(_problems(root, "[`f`](code/m.py#L1-L2)\n")) == 1
