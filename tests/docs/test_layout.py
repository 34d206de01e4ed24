"""The house is organised as DESIGN.md says, and ROADMAP.md names only real paths."""

import re
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
PHASES = sorted(ROOT.glob("phase-[0-9][0-9]-*"))


@pytest.mark.parametrize("phase", PHASES, ids=lambda p: p.name)
def test_phase_folder_has_readme_notes_code_blog(phase):
    """Every phase has its README; a phase with code also has notes explaining it.

    (A blog post is required once the phase is ticked in ROADMAP.md: see below.)"""
    assert (phase / "README.md").is_file()
    if any((phase / "code").glob("*.py")):
        assert any((phase / "notes").glob("*.md")), f"{phase.name} has code but no notes/*.md"


def test_top_level_files_exist():
    for name in ("ROADMAP.md", "CLAUDE.md", "README.md", "pyproject.toml", "Makefile", ".ci/run",
                 "papers/README.md"):
        assert (ROOT / name).is_file(), name


def test_every_phase_package_is_mapped():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = cfg["package-dir"]
    for phase in PHASES:
        assert mapping[f"phase{phase.name[6:8]}"] == f"{phase.name}/code"
    assert set(mapping) == {f"phase{i:02d}" for i in range(10)}
    with_code = {f"phase{p.name[6:8]}" for p in PHASES if (p / "code" / "__init__.py").is_file()}
    assert set(cfg["packages"]) == with_code, "list every phase package that has code in [tool.setuptools] packages"


def roadmap_paths() -> list[str]:
    text = (ROOT / "ROADMAP.md").read_text()
    found = set(re.findall(r"\]\(([^)#\s]+)", text))  # link targets
    for code in re.findall(r"`([^`\s]+)`", text):   # `path/like/this.py`
        if "/" in code or re.search(r"\.(py|md|png|toml)$", code):
            found.add(code)
    return sorted(p for p in found if not re.match(r"^[a-z]+:", p))


def test_roadmap_names_only_existing_paths():
    paths = roadmap_paths()
    assert len(paths) > 20, "ROADMAP.md should point at the code, notes and tests it describes"
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert missing == []


def test_roadmap_ticks_only_phases_whose_work_exists():
    """A ticked phase has code, notes, a blog post and tests."""
    text = (ROOT / "ROADMAP.md").read_text()
    for m in re.finditer(r"^- \[x\] .*?\b[Pp]hase (\d\d)\b", text, re.M):
        n = m.group(1)
        phase = next(p for p in PHASES if p.name.startswith(f"phase-{n}"))
        assert any((phase / "code").glob("*.py")), f"phase {n} ticked without code"
        assert any((phase / "notes").glob("*.md")), f"phase {n} ticked without notes"
        assert any((phase / "blog").glob("*.md")), f"phase {n} ticked without a blog post"
        assert any((ROOT / "tests" / f"phase{n}").glob("test_*.py")), f"phase {n} ticked without tests"


def test_every_blog_post_runs_under_the_suite():
    """pytest's testpaths include every phase's blog/, and --markdown-docs is on."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--markdown-docs" in cfg["addopts"]
    for phase in PHASES:
        assert f"{phase.name}/blog" in cfg["testpaths"]
    for post in ROOT.glob("phase-*/blog/*.md"):
        assert "```python" in post.read_text(), f"{post.relative_to(ROOT)} has no runnable snippet"
