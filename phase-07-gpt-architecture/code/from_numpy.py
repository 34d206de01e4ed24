"""Phase 05's NumPy language model -> phase 07's torch ``GPT``, the same weights.

The two models are the same function: phase 05 wrote every forward and backward by hand,
phase 07 lets torch do it. Only the names differ, because phase 07 takes Hugging Face's:

    phase 05 (NumPy)                  phase 07 (torch)
    wte.weight, wpe.weight            transformer.wte.weight, transformer.wpe.weight
    blocks.{i}.ln1.*, ln2.*           transformer.h.{i}.ln_1.*, ln_2.*
    blocks.{i}.attn.c_attn.*, ...     transformer.h.{i}.attn.c_attn.*, ...
    ln_f.*                            transformer.ln_f.*
    lm_head.weight (tied)             lm_head.weight (tied)

Shapes are the same on both sides (torch's ``(out, in)``), so nothing is transposed. The
test ``tests/phase07/test_numpy_parity.py`` holds logits and every parameter gradient
equal in float64. Nothing here imports phase 05: a model is read through its ``config``
and ``state_dict()``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from phase07.gpt import GPT, GPTConfig


def numpy_name_to_ours(name: str) -> str:
    """``blocks.0.ln1.weight`` -> ``transformer.h.0.ln_1.weight``.

    >>> numpy_name_to_ours("blocks.3.ln2.bias"), numpy_name_to_ours("wpe.weight")
    ('transformer.h.3.ln_2.bias', 'transformer.wpe.weight')
    """
    if name.startswith("blocks."):
        rest = name[len("blocks."):].replace(".ln1.", ".ln_1.").replace(".ln2.", ".ln_2.")
        return "transformer.h." + rest
    if name.startswith(("wte.", "wpe.", "ln_f.")):
        return "transformer." + name
    if name == "lm_head.weight":
        return name
    raise ValueError(f"not a parameter of phase 05's GPT: {name!r}")


def config_from_numpy(np_config, layer_norm_eps: float = 1e-5) -> GPTConfig:
    """Our config from phase 05's ``GPTConfig`` (which must have biases, as GPT-2)."""
    if not getattr(np_config, "bias", True):
        raise ValueError("phase 05 model has bias=False; phase 07's GPT always has biases (GPT-2 does)")
    return GPTConfig(block_size=np_config.block_size, vocab_size=np_config.vocab_size,
                     n_layer=np_config.n_layer, n_head=np_config.n_head, n_embd=np_config.n_embd,
                     dropout=float(np_config.dropout), layer_norm_eps=layer_norm_eps)


def state_dict_from_numpy(np_state: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Rename and wrap as tensors (copies, so the two models do not share memory)."""
    return {numpy_name_to_ours(k): torch.tensor(np.array(v)) for k, v in np_state.items()}


def from_numpy_lm(np_model) -> GPT:
    """A torch ``GPT`` equal to phase 05's NumPy ``GPT``, in its dtype and training mode."""
    state = np_model.state_dict()
    eps = getattr(getattr(np_model.blocks[0], "ln1", None), "eps", 1e-5) if len(np_model.blocks) else 1e-5
    model = GPT(config_from_numpy(np_model.config, eps))
    model = model.to(dtype=torch.from_numpy(np.asarray(state["wte.weight"])).dtype)
    model.load_state_dict(state_dict_from_numpy(state))
    return model.train(np_model.training)
