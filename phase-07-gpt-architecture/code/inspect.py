"""Model surgery on paper: parameters per component, FLOPs per token, training memory.

Everything here is arithmetic on a ``GPTConfig`` (no model is built), so it answers for
GPT-2 XL as fast as for the toy. The tests hold each count to the model itself (built on
the ``meta`` device) and to numbers worked out by hand.

    python -m phase07.inspect --preset gpt2
    python -m phase07.inspect --preset shakespeare-char --batch-size 64 --seq-len 256

See phase-07-gpt-architecture/notes/gpt2-architecture.md (the 124,439,808 line by line)
and notes/flops-and-memory.md (the FLOP and memory formulas).
"""

from __future__ import annotations

import argparse
import sys

from phase07.gpt import PRESETS, GPTConfig


def block_parameters(config: GPTConfig) -> dict[str, int]:
    """Parameters of one block, by sub-module (weights and biases; LayerNorm has gain and bias).

    >>> sum(block_parameters(GPTConfig.from_preset("gpt2")).values())
    7087872
    """
    C = config.n_embd
    return {
        "ln_1": 2 * C,
        "attn.c_attn": C * 3 * C + 3 * C,
        "attn.c_proj": C * C + C,
        "ln_2": 2 * C,
        "mlp.c_fc": C * 4 * C + 4 * C,
        "mlp.c_proj": 4 * C * C + C,
    }


def parameter_counts(config: GPTConfig) -> dict[str, int]:
    """Parameters by component over the whole model; the tied head adds nothing.

    >>> sum(parameter_counts(GPTConfig.from_preset("gpt2")).values())
    124439808
    """
    C, L = config.n_embd, config.n_layer
    counts = {"transformer.wte": config.vocab_size * C, "transformer.wpe": config.block_size * C}
    counts.update({f"transformer.h.*.{name}": L * n for name, n in block_parameters(config).items()})
    counts["transformer.ln_f"] = 2 * C
    counts["lm_head (tied to wte)"] = 0
    return counts


def flops_per_token(config: GPTConfig, seq_len: int | None = None) -> dict[str, int]:
    """Forward FLOPs per token by matrix product, at context ``seq_len`` (default block_size).

    A multiply-add is 2 FLOPs, so an ``(in, out)`` matrix costs ``2 in out`` per token.
    Attention adds ``2 T C`` for the scores ``q k^T`` and ``2 T C`` for the weighted sum of
    values in each layer, counted over the full context ``T`` (Kaplan et al. 2020's
    convention; the causal mask makes half of it useless work). Biases, LayerNorm, softmax
    and GELU are O(C) per token and left out. Training is about 3x this (the backward pass
    computes two products for each forward one), which is where "6N" comes from.
    """
    T = config.block_size if seq_len is None else seq_len
    C, L, V = config.n_embd, config.n_layer, config.vocab_size
    return {
        "attn.c_attn": L * 2 * C * 3 * C,
        "attn.c_proj": L * 2 * C * C,
        "attention scores q k^T": L * 2 * T * C,
        "attention values w v": L * 2 * T * C,
        "mlp.c_fc": L * 2 * C * 4 * C,
        "mlp.c_proj": L * 2 * 4 * C * C,
        "lm_head": 2 * C * V,
    }


def training_flops_per_token(config: GPTConfig, seq_len: int | None = None) -> dict[str, int]:
    """Forward, backward (2x forward) and their sum; and the 6N rule for comparison.

    The 6N rule (``6 x parameters``) counts the embedding lookups as if they were products
    and leaves out attention; the sum here counts the head's product and the attention
    term and leaves out the lookups.
    """
    forward = sum(flops_per_token(config, seq_len).values())
    n = sum(parameter_counts(config).values())
    return {"forward": forward, "backward": 2 * forward, "training": 3 * forward, "6N": 6 * n}


def activation_elements_per_token(config: GPTConfig, seq_len: int | None = None,
                                  attention: str = "sdpa") -> int:
    """Floats kept for the backward pass (and the logits) per token of a training step.

    Per block: the inputs and outputs of both LayerNorms (4C) and their means and inverse
    deviations (4); q, k and v (3C, one tensor); the attention output (C), which
    ``F.scaled_dot_product_attention`` already lays out as merged heads, with one
    log-sum-exp per head (n_head); the MLP's wide input and GELU output (8C). Total
    16C + 4 + n_head. The explicit attention keeps each head's (T, T) weights instead of
    the log-sum-exps: 16C + 4 + n_head T. After the blocks: ln_f's input, output and
    statistics (2C + 2), the logits and their log-softmax (2V). Left out: the int64 token
    ids (16 bytes per token), and the boolean mask of the explicit attention (T^2 bytes).
    """
    T = config.block_size if seq_len is None else seq_len
    C, L, V, nh = config.n_embd, config.n_layer, config.vocab_size, config.n_head
    if attention == "sdpa":
        per_block = 16 * C + 4 + nh
    elif attention == "explicit":
        per_block = 16 * C + 4 + nh * T
    else:
        raise ValueError(f"attention must be 'sdpa' or 'explicit', got {attention!r}")
    return L * per_block + 2 * C + 2 + 2 * V


def training_memory(config: GPTConfig, batch_size: int, seq_len: int | None = None,
                    bytes_per_element: int = 4, attention: str = "sdpa") -> dict[str, int]:
    """Bytes for one AdamW training step in one precision (float32 by default).

    Parameters, their gradients and AdamW's two moments are 4 copies of N numbers; the
    activations are ``activation_elements_per_token`` times ``batch_size x seq_len``.
    """
    T = config.block_size if seq_len is None else seq_len
    if T > config.block_size:
        raise ValueError(f"seq_len {T} exceeds block_size {config.block_size}")
    n = sum(parameter_counts(config).values())
    acts = activation_elements_per_token(config, T, attention) * batch_size * T
    out = {"parameters": n, "gradients": n, "AdamW moments (m, v)": 2 * n, "activations": acts}
    out = {k: v * bytes_per_element for k, v in out.items()}
    out["total"] = sum(out.values())
    return out


def kv_cache_bytes(config: GPTConfig, batch_size: int, seq_len: int | None = None,
                   bytes_per_element: int = 4) -> int:
    """Keys and values of every layer and position: ``2 L B T C`` numbers.

    >>> kv_cache_bytes(GPTConfig.from_preset("gpt2"), 1)  # 2 * 12 * 1024 * 768 floats
    75497472
    """
    T = config.block_size if seq_len is None else seq_len
    return 2 * config.n_layer * batch_size * T * config.n_embd * bytes_per_element


def _table(rows: list[tuple[str, int]], unit: str = "") -> str:
    total = sum(n for _, n in rows)
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"  {name:<{width}}{n:>16,}{unit}  {100 * n / total:5.1f}%" for name, n in rows]
    lines.append(f"  {'total':<{width}}{total:>16,}{unit}")
    return "\n".join(lines)


def report(config: GPTConfig, name: str, batch_size: int, seq_len: int | None,
           attention: str = "sdpa") -> str:
    T = config.block_size if seq_len is None else seq_len
    c = config
    out = [f"{name}: n_layer {c.n_layer}, n_head {c.n_head}, n_embd {c.n_embd}, "
           f"block_size {c.block_size}, vocab_size {c.vocab_size}", "",
           "parameters (counted once: the head is the token embedding)",
           _table(list(parameter_counts(c).items())),
           f"  one block: {sum(block_parameters(c).values()):,}", "",
           f"forward FLOPs per token at context {T}",
           _table(list(flops_per_token(c, T).items()))]
    tr = training_flops_per_token(c, T)
    out += [f"  training (forward + backward = 3x forward): {tr['training']:,} FLOPs per token",
            f"  6N rule: {tr['6N']:,} FLOPs per token ({tr['training'] / tr['6N']:.3f}x of it)", ""]
    mem = training_memory(c, batch_size, T, attention=attention)
    out.append(f"training memory, float32, AdamW, batch {batch_size} x context {T} ({attention} attention)")
    out += [f"  {k:<24}{v / 2**30:10.3f} GiB" for k, v in mem.items()]
    kv = kv_cache_bytes(c, 1, c.block_size)
    out += ["", f"KV cache for generation: {kv / 2**20:.1f} MiB per sequence of {c.block_size} positions (float32)"]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m phase07.inspect", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="gpt2", choices=list(PRESETS))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=None, help="context for FLOPs and memory (default block_size)")
    parser.add_argument("--attention", default="sdpa", choices=["sdpa", "explicit"])
    args = parser.parse_args(argv)
    config = GPTConfig.from_preset(args.preset)
    print(report(config, args.preset, args.batch_size, args.seq_len, args.attention))
    return 0


if __name__ == "__main__":
    sys.exit(main())
