"""Reading autograd's graph (phase06.graph) and the phase's figure (phase06.figures)."""

import numpy as np
import pytest
import torch

from phase05.lm import GPTConfig
from phase06 import figures
from phase06.graph import backward_nodes, grad_fn_lines
from phase06.lm import Block


def test_block_graph_has_one_node_per_hand_written_backward():
    torch.manual_seed(0)
    block = Block(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=4))
    x = torch.randn(1, 3, 4, requires_grad=True)
    lines = grad_fn_lines(block(x), dict(block.named_parameters()))
    nodes = backward_nodes(block(x))
    for node in ("AddBackward0", "NativeLayerNormBackward0", "AddmmBackward0", "GeluBackward0",
                 "SplitBackward0", "AccumulateGrad"):
        assert node in nodes
    assert any(n.startswith("ScaledDotProduct") for n in nodes)     # the fused attention's backward
    for name, _ in block.named_parameters():                        # each parameter is one leaf
        assert sum(line.strip() == f"AccumulateGrad -> {name}" for line in lines) == 1, name
    assert lines[0] == "AddBackward0"                              # the last residual add comes first


def test_parity_figure_is_drawn(tmp_path):
    figures.plot_parity_errors({"Linear": (3e-16, "bias grad"), "Embedding": (0.0, "")}, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 5_000


@pytest.mark.slow
def test_figure_main_measures_every_component(tmp_path):
    errors = figures.main(tmp_path, seeds=(0,))
    assert all(err < 1e-6 for err, _ in errors.values()), errors
    assert max(err for err, _ in errors.values()) > 0                # not vacuous: rounding shows somewhere
    assert np.isclose(min(err for err, _ in errors.values()), 0.0)   # lookups copy exactly
