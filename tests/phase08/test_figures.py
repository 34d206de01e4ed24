"""phase08.figures: the two instant figures draw, and the measured side-by-side the
figure and the notes quote agree with each other (crossings of 1.886 and 1.75)."""

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from phase08 import figures

NOTE = Path(figures.__file__).resolve().parents[1] / "notes" / "cpu-recipe.md"


def one_decimal(x: float) -> str:
    """93.85 -> "93.9", as a person rounds (format() gives 93.8: 93.85 is 93.8499... in binary)."""
    return str(Decimal(str(x)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def first_time_at_or_below(run, threshold):
    return next((t for _, t, v in run if v <= threshold), None)


def test_lr_and_side_by_side_figures_are_written(tmp_path):
    for draw in (figures.lr_figure, figures.vs_nanogpt_figure):
        path = draw(tmp_path)
        assert path.exists() and path.stat().st_size > 10_000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("run", ["NANOGPT_CPU_RUN", "OURS_NANOGPT_RECIPE", "OURS_CPU_RECIPE"])
def test_measured_runs_are_ordered_in_steps_and_time(run):
    rows = getattr(figures, run)
    steps, times = [r[0] for r in rows], [r[1] for r in rows]
    assert steps == sorted(steps) and times == sorted(times) and steps[0] == 0


def test_the_note_quotes_the_measured_crossings():
    text = NOTE.read_text()
    nano_end = figures.NANOGPT_CPU_RUN[-1][1]
    ours_1886 = first_time_at_or_below(figures.OURS_CPU_RECIPE, 1.886)
    ours_175 = first_time_at_or_below(figures.OURS_CPU_RECIPE, 1.75)
    for seconds in (nano_end, ours_1886, ours_175):
        assert f"{one_decimal(seconds)} s" in text
    # the claims of the note: half of nanoGPT's time for 1.886, within its time for 1.75
    assert ours_1886 <= nano_end / 2 and ours_175 <= nano_end
    assert f"{ours_1886 / nano_end:.2f} of nanoGPT's" in text
