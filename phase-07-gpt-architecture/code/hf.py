"""Hugging Face GPT-2 weights in and out of ``phase07.gpt.GPT``.

Our parameter names are HF's ``GPT2LMHeadModel`` names. Two things differ:

- HF's projections are ``Conv1D`` layers whose weight is ``(in, out)``; ours are
  ``nn.Linear`` with ``(out, in)``. The four matrices of each block (``attn.c_attn``,
  ``attn.c_proj``, ``mlp.c_fc``, ``mlp.c_proj``) are transposed on the way in and out.
- Checkpoints on the Hub (OpenAI's ``gpt2``) name tensors without the ``transformer.``
  prefix and carry the causal mask as a buffer ``h.{i}.attn.bias``; both are normalised.

``transformers`` is needed only for ``from_hf``, ``to_hf`` and loading from the HF cache;
a ``.safetensors`` file loads with the ``safetensors`` package alone. Nothing here
downloads: ``from_pretrained`` reads the user's cache with ``local_files_only=True``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import torch

from phase07.gpt import GPT, GPTConfig

# the Conv1D weights of each block, (in, out) in HF and (out, in) here
TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
# heads of OpenAI's four sizes, by width (a safetensors file alone does not say)
HEADS_BY_WIDTH = {768: 12, 1024: 16, 1280: 20, 1600: 25}


def _needs_transpose(name: str) -> bool:
    return name.startswith("transformer.h.") and name.endswith(TRANSPOSED)


def config_from_hf(hf_config) -> GPTConfig:
    """Our config from a ``transformers.GPT2Config``; refuses the variants GPT-2 never used."""
    unsupported = {
        "activation_function": (hf_config.activation_function, ("gelu_new", "gelu_pytorch_tanh", "gelu")),
        "n_inner": (hf_config.n_inner, (None, 4 * hf_config.n_embd)),
        "scale_attn_weights": (hf_config.scale_attn_weights, (True,)),
        "scale_attn_by_inverse_layer_idx": (hf_config.scale_attn_by_inverse_layer_idx, (False,)),
        "add_cross_attention": (getattr(hf_config, "add_cross_attention", False), (False,)),
        "tie_word_embeddings": (getattr(hf_config, "tie_word_embeddings", True), (True,)),
    }
    for field, (value, allowed) in unsupported.items():
        if value not in allowed:
            raise ValueError(f"GPT2Config.{field}={value!r} is not GPT-2's architecture (expected one of {allowed})")
    rates = {hf_config.embd_pdrop, hf_config.attn_pdrop, hf_config.resid_pdrop}
    if len(rates) != 1:
        raise ValueError(f"GPT2Config: embd_pdrop, attn_pdrop, resid_pdrop differ ({sorted(rates)}); "
                         "GPTConfig has one dropout rate")
    return GPTConfig(block_size=hf_config.n_positions, vocab_size=hf_config.vocab_size,
                     n_layer=hf_config.n_layer, n_head=hf_config.n_head, n_embd=hf_config.n_embd,
                     dropout=float(hf_config.resid_pdrop), layer_norm_eps=hf_config.layer_norm_epsilon,
                     gelu="exact" if hf_config.activation_function == "gelu" else "tanh")


def hf_config_from(config: GPTConfig):
    """A ``transformers.GPT2Config`` with the same architecture."""
    from transformers import GPT2Config

    eot = 50256 if config.vocab_size > 50256 else None  # <|endoftext|>, when the vocabulary has it
    return GPT2Config(n_positions=config.block_size, vocab_size=config.vocab_size,
                      n_layer=config.n_layer, n_head=config.n_head, n_embd=config.n_embd,
                      embd_pdrop=config.dropout, attn_pdrop=config.dropout, resid_pdrop=config.dropout,
                      layer_norm_epsilon=config.layer_norm_eps,
                      activation_function="gelu_new" if config.gelu == "tanh" else "gelu",
                      bos_token_id=eot, eos_token_id=eot)


def state_dict_from_hf(hf_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """HF names and shapes -> ours: add the ``transformer.`` prefix where a Hub file lacks
    it, drop the causal-mask buffers, transpose the Conv1D weights. Copies nothing else."""
    out = {}
    for name, tensor in hf_state.items():
        if name.endswith((".attn.bias", ".attn.masked_bias")):
            continue  # the (1, 1, T, T) causal mask of older checkpoints: a buffer, not a weight
        if not name.startswith(("transformer.", "lm_head.")):
            name = "transformer." + name
        out[name] = tensor.t() if _needs_transpose(name) else tensor
    return out


def to_hf_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """Our weights under HF's names and shapes (detached; Conv1D weights ``(in, out)``)."""
    return {name: (t.t() if _needs_transpose(name) else t).detach().clone()
            for name, t in model.state_dict().items()}


def from_hf(hf_model) -> GPT:
    """Our model from a ``GPT2LMHeadModel``: same config, same weights, same dtype."""
    config = config_from_hf(hf_model.config)
    hf_state = hf_model.state_dict()
    model = GPT(config).to(dtype=hf_state["transformer.wte.weight"].dtype)
    model.load_state_dict(state_dict_from_hf(hf_state))
    return model.train(hf_model.training)


def to_hf(model: GPT):
    """A ``GPT2LMHeadModel`` with our config and weights."""
    from transformers import GPT2LMHeadModel

    hf_model = GPT2LMHeadModel(hf_config_from(model.config)).to(dtype=model.transformer.wte.weight.dtype)
    missing, unexpected = hf_model.load_state_dict(to_hf_state_dict(model), strict=False)
    missing = [k for k in missing if not k.endswith((".attn.bias", ".attn.masked_bias"))]
    if missing or unexpected:
        raise ValueError(f"to_hf: missing keys {missing}, unexpected keys {unexpected}")
    return hf_model.train(model.training)


def config_from_state_dict(state: Mapping[str, torch.Tensor], hf_config: dict | None = None) -> GPTConfig:
    """Read the architecture off the tensors (``n_head`` from ``config.json`` or by width)."""
    try:
        vocab_size, n_embd = state["transformer.wte.weight"].shape
        block_size = state["transformer.wpe.weight"].shape[0]
    except KeyError as exc:
        raise ValueError(f"not a GPT-2 checkpoint: no tensor {exc.args[0]}") from None
    n_layer = len({k.split(".")[2] for k in state if k.startswith("transformer.h.")})
    n_head = (hf_config or {}).get("n_head") or HEADS_BY_WIDTH.get(n_embd)
    if n_head is None:
        raise ValueError(f"cannot tell n_head for width {n_embd}: put the model's config.json beside the file")
    eps = (hf_config or {}).get("layer_norm_epsilon", 1e-5)
    return GPTConfig(block_size=block_size, vocab_size=vocab_size, n_layer=n_layer, n_head=n_head,
                     n_embd=n_embd, layer_norm_eps=eps)


def load_safetensors(file: Path) -> GPT:
    """A GPT from a ``.safetensors`` file of GPT-2 weights (HF or Hub naming)."""
    from safetensors.torch import load_file

    state = state_dict_from_hf(load_file(str(file)))
    config_json = file.with_name("config.json")
    hf_config = json.loads(config_json.read_text()) if config_json.is_file() else None
    model = GPT(config_from_state_dict(state, hf_config))
    model.load_state_dict(state)
    return model.eval()


def from_pretrained(name_or_path: str | os.PathLike = "gpt2", *, cache_dir=None) -> GPT:
    """Real GPT-2 weights, in eval mode, without touching the network.

    - a ``.safetensors`` file, or a folder holding ``model.safetensors`` (and optionally the
      ``config.json`` that ``save_pretrained`` writes beside it);
    - otherwise a Hub name (``gpt2``, ``gpt2-medium``, ...) looked up in the local HF cache
      (``cache_dir``, else ``$HF_HOME``) with ``local_files_only=True``.

    Anything else is a ``FileNotFoundError`` that says where it looked and how to get the
    weights once.
    """
    path = Path(name_or_path)
    if path.is_file():
        return load_safetensors(path)
    if path.is_dir():
        file = path / "model.safetensors"
        if not file.is_file():
            raise FileNotFoundError(f"{path} has no model.safetensors")
        return load_safetensors(file)
    if str(name_or_path).endswith(".safetensors"):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        from transformers import GPT2LMHeadModel
    except ImportError as exc:
        raise FileNotFoundError(f"{name_or_path!r} is not a file or folder, and reading the HF cache "
                                "needs transformers (pip install transformers)") from exc
    try:
        hf_model = GPT2LMHeadModel.from_pretrained(str(name_or_path), local_files_only=True, cache_dir=cache_dir)
    except (OSError, ValueError) as exc:
        where = cache_dir or os.environ.get("HF_HOME") or "~/.cache/huggingface"
        raise FileNotFoundError(
            f"no local weights for {str(name_or_path)!r}: it is not a file or folder, and the Hugging "
            f"Face cache ({where}) does not hold it. Fetch it once with the network on "
            f"(`huggingface-cli download {name_or_path}`), or pass the path of a model.safetensors."
        ) from exc
    return from_hf(hf_model).eval()
