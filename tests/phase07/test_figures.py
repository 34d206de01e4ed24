"""phase07.figures runs end to end (a few training steps instead of 600) into tmp_path."""

from phase07 import figures


def test_figures_main_writes_both_pngs(tmp_path):
    paths = figures.main(tmp_path, steps=3)
    assert [p.name for p in paths] == ["gpt2_124m_breakdown.png", "attention_maps.png"]
    for p in paths:
        assert p.parent == tmp_path and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_grouped_parameters_add_up_to_124m():
    from phase07.gpt import GPTConfig

    assert sum(figures.grouped_parameters(GPTConfig.from_preset("gpt2")).values()) == 124_439_808
