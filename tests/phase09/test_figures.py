from phase09.figures import main


def test_figures_are_written(tmp_path):
    written = main(tmp_path)
    assert (tmp_path / "rope_frequencies.png").stat().st_size > 1000
    assert all(p.parent == tmp_path for p in written)
