"""The import rules of DESIGN.md, checked on the source (an AST walk, no imports run).

- a phase imports only earlier phases (phase05 may import phase00..phase04);
- phases 00-05 import no torch, transformers or tiktoken.
import-linter (`make lint`) checks the same on the packages it knows; this test covers every
phase, including those import-linter's config does not list yet.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PHASE_DIRS = sorted(ROOT.glob("phase-[0-9][0-9]-*"))
NUMPY_ONLY_FORBIDDEN = {"torch", "transformers", "tiktoken", "tokenizers", "jax", "tensorflow"}


def imported_modules(py: Path) -> list[tuple[int, str]]:
    tree = ast.parse(py.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def violations(phase_dir: Path) -> list[str]:
    n = int(phase_dir.name[6:8])
    bad = []
    for py in sorted((phase_dir / "code").rglob("*.py")):
        for line, mod in imported_modules(py):
            top = mod.split(".")[0]
            where = f"{py.relative_to(ROOT)}:{line}"
            m = re.fullmatch(r"phase(\d\d)", top)
            if m and int(m.group(1)) > n:
                bad.append(f"{where}: phase{n:02d} imports the later {top}")
            if n <= 5 and top in NUMPY_ONLY_FORBIDDEN:
                bad.append(f"{where}: phase{n:02d} is NumPy only but imports {mod}")
    return bad


def test_there_are_ten_phases():
    assert [p.name[:8] for p in PHASE_DIRS] == [f"phase-{i:02d}" for i in range(10)]


@pytest.mark.parametrize("phase_dir", PHASE_DIRS, ids=lambda p: p.name)
def test_phase_imports_only_earlier_phases_and_numpy_phases_no_torch(phase_dir):
    assert violations(phase_dir) == []


def test_the_checker_catches_violations(tmp_path):
    code = tmp_path / "phase-03-text" / "code"
    code.mkdir(parents=True)
    (code / "a.py").write_text("import numpy\nfrom phase04.attention import x\n\ndef f():\n    import torch\n")
    global ROOT
    old, ROOT = ROOT, tmp_path
    try:
        found = violations(tmp_path / "phase-03-text")
    finally:
        ROOT = old
    assert found == [
        "phase-03-text/code/a.py:2: phase03 imports the later phase04",
        "phase-03-text/code/a.py:5: phase03 is NumPy only but imports torch",
    ]


def test_import_linter_knows_every_phase_with_code():
    """pyproject's import-linter contracts list every phase package that has modules."""
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    with_code = {f"phase{p.name[6:8]}" for p in PHASE_DIRS if any((p / "code").glob("*.py"))}
    assert set(cfg["root_packages"]) == with_code
    layers = next(c for c in cfg["contracts"] if c["id"] == "layers")["layers"]
    assert [name.strip("()") for name in layers] == [f"phase{i:02d}" for i in range(9, -1, -1)]
    numpy_only = next(c for c in cfg["contracts"] if c["id"] == "numpy-only")["source_modules"]
    assert set(numpy_only) == {p for p in with_code if int(p[5:]) <= 5}
