"""Every command line: it works, and it rejects bad flags and bad paths with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from phase08 import bench, plot, prepare, sample
from phase08 import train as train_mod

TINY = ["--config", "tiny", "--threads", "1", "--n_layer", "1", "--n_embd", "16", "--block_size", "16",
        "--batch_size", "4", "--eval_iters", "2", "--log_interval", "1000", "--warmup_iters", "1"]


@pytest.fixture
def run_dir(char_data, tmp_path):
    """A finished tiny run (6 steps) made through the command line."""
    out = tmp_path / "run"
    code = train_mod.main(TINY + ["--data_dir", str(char_data), "--out_dir", str(out), "--max_iters", "6",
                                  "--eval_interval", "3"])
    assert code == 0
    return out


def test_the_train_module_runs_as_a_program(char_data, tmp_path):
    out = tmp_path / "cli"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "phase08.train", *TINY, "--data_dir", str(char_data),
                           "--out_dir", str(out), "--max_iters=4", "--eval_interval=2", "--sample_tokens=20",
                           "--plot"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "iter" in proc.stdout and "ms/iter" in proc.stdout and "tok/s" in proc.stdout and "MFU" in proc.stdout
    assert "--- sample" in proc.stdout and "ROMEO:" in proc.stdout
    assert (out / "loss.png").stat().st_size > 1000
    assert {"ckpt.pt", "config.json", "metrics.jsonl", "loss.png"} <= {p.name for p in out.iterdir()}


@pytest.mark.parametrize("extra, message", [
    (["--data_dir", "/no/such/folder"], "data_dir '/no/such/folder' is not a folder"),
    (["--resume"], "no checkpoint at"),
])
def test_train_rejects_bad_paths(extra, message, tmp_path, capsys):
    code = train_mod.main(TINY + ["--out_dir", str(tmp_path / "x")] + extra)
    assert code == 2
    assert message in capsys.readouterr().err


def test_train_rejects_an_out_dir_that_is_a_file(char_data, tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    code = train_mod.main(TINY + ["--data_dir", str(char_data), "--out_dir", str(f), "--max_iters", "1"])
    assert code == 2
    assert "exists and is not a folder" in capsys.readouterr().err


def test_train_rejects_bad_flags(capsys):
    with pytest.raises(SystemExit) as e:
        train_mod.main(["--config", "tiny", "--learning_rate=1"])
    assert e.value.code == 2
    assert "unrecognized arguments: --learning_rate=1" in capsys.readouterr().err


def test_auto_device_on_a_cpu_machine_picks_the_cpu_preset(monkeypatch, capsys, tmp_path):
    import torch

    monkeypatch.setattr(train_mod, "pick_device", lambda spec="auto": torch.device("cpu"))
    code = train_mod.main(["--config", "shakespeare-char", "--data_dir", str(tmp_path / "none")])
    out = capsys.readouterr()
    assert "becomes shakespeare-char-cpu" in out.out
    assert code == 2 and "is not a folder" in out.err  # and then the bad path is reported


def test_sample_prints_text_from_a_checkpoint(run_dir, capsys):
    code = sample.main(["--ckpt", str(run_dir), "--prompt", "ROMEO:", "--max_new_tokens", "30",
                        "--device", "cpu", "--num_samples", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("ROMEO:") == 2 and "---" in out
    # seeded: the same command gives the same text
    sample.main(["--ckpt", str(run_dir), "--prompt", "ROMEO:", "--max_new_tokens", "30", "--device", "cpu",
                 "--num_samples", "2"])
    assert capsys.readouterr().out == out


@pytest.mark.parametrize("args, message", [
    (["--ckpt", "/no/such/run"], "no checkpoint at /no/such/run"),
    (["--ckpt", "RUN", "--prompt", "ROMEO\u00e9"], "character 'é'"),
    (["--ckpt", "RUN", "--device", "cuda"], "CUDA is not available"),
])
def test_sample_rejects_bad_input(args, message, run_dir, capsys):
    code = sample.main([str(run_dir) if a == "RUN" else a for a in args])
    assert code == 2
    assert message in capsys.readouterr().err


def test_sample_rejects_bad_flags(capsys):
    with pytest.raises(SystemExit):
        sample.main(["--ckpt", "x", "--temprature", "1"])
    assert "unrecognized arguments" in capsys.readouterr().err


def test_plot_writes_the_png_and_rejects_bad_paths(run_dir, tmp_path, capsys):
    assert plot.main([str(run_dir), "--out", str(tmp_path / "curve.png")]) == 0
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot.main([str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert plot.main([str(empty)]) == 2
    assert "metrics.jsonl is missing" in capsys.readouterr().err


def test_prepare_cli_and_its_errors(shakespeare_head, tmp_path, capsys):
    assert prepare.main(["--tokenizer", "char", "--input", str(shakespeare_head), "--out", str(tmp_path / "d")]) == 0
    assert "train +" in capsys.readouterr().out
    assert prepare.main(["--tokenizer", "char", "--input", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "e")]) == 2
    assert "is not a file" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    assert prepare.main(["--tokenizer", "char", "--input", str(shakespeare_head), "--out", str(tmp_path / "afile")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert prepare.main(["--tokenizer", "char", "--hf_dataset", "x/y", "--out", str(tmp_path / "f")]) == 2
    assert "gpt2 tokenizer only" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        prepare.main(["--tokenizer", "bpe", "--input", str(shakespeare_head), "--out", str(tmp_path / "g")])
    assert "invalid choice: 'bpe'" in capsys.readouterr().err


def test_bench_prints_the_figures_and_rejects_bad_input(capsys):
    code = bench.main(["--preset", "tiny", "--device", "cpu", "--threads", "1", "--iters", "2", "--warmup", "1",
                       "--n_layer", "1", "--n_embd", "16", "--block_size", "16", "--batch_size", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "ms/iter" in out and "tokens/s" in out and "MFU" in out and "projected" in out
    assert bench.main(["--preset", "tiny", "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--preset", "nope"])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--preset", "tiny", "--iters", "0"])
    assert "--iters must be >= 1" in capsys.readouterr().err


def test_measure_peak_times_matmuls_and_bench_takes_mfu_against_it(capsys, monkeypatch):
    from phase08 import flops

    measured = flops.measure_peak(torch.device("cpu"), n=128, repeats=3)
    assert 1e7 < measured < 1e14  # FLOP/s of a CPU, not seconds or FLOPs
    monkeypatch.setattr(bench, "measure_peak", lambda device, dtype: 2e9)
    code = bench.main(["--preset", "tiny", "--device", "cpu", "--threads", "1", "--iters", "2", "--warmup", "1",
                       "--n_layer", "1", "--n_embd", "16", "--block_size", "16", "--batch_size", "2",
                       "--measure_peak"])
    out = capsys.readouterr().out
    assert code == 0
    assert "measured peak: 2 GFLOP/s" in out and "of 2 GFLOP/s" in out
