"""The figures of phase 07's blog post.

    python -m phase07.figures     # writes phase-07-gpt-architecture/blog/figures/*.png

- ``gpt2_124m_breakdown.png``: where GPT-2 small's 124,439,808 parameters live, and where
  its forward FLOPs per token go at a context of 1024 (``phase07.inspect``).
- ``attention_maps.png``: the attention weights of every head of the ``tiny`` preset after
  a short training run on Tiny Shakespeare characters (about a minute on a laptop CPU).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from phase00.data import read_text  # noqa: E402
from phase02.char_rnn import CharVocab  # noqa: E402
from phase07.gpt import GPT, GPTConfig  # noqa: E402
from phase07.inspect import flops_per_token, parameter_counts  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "blog" / "figures"


def grouped_parameters(config: GPTConfig) -> dict[str, int]:
    """``parameter_counts`` folded into the five parts a reader thinks in."""
    c = parameter_counts(config)
    return {
        "token embedding wte\n(= output head)": c["transformer.wte"],
        "position embedding wpe": c["transformer.wpe"],
        "attention (c_attn, c_proj)": c["transformer.h.*.attn.c_attn"] + c["transformer.h.*.attn.c_proj"],
        "MLP (c_fc, c_proj)": c["transformer.h.*.mlp.c_fc"] + c["transformer.h.*.mlp.c_proj"],
        "LayerNorms": c["transformer.h.*.ln_1"] + c["transformer.h.*.ln_2"] + c["transformer.ln_f"],
    }


def plot_breakdown(out_dir: Path) -> Path:
    config = GPTConfig.from_preset("gpt2")
    params = grouped_parameters(config)
    f = flops_per_token(config)
    flops = {
        "attention projections\n(c_attn, c_proj)": f["attn.c_attn"] + f["attn.c_proj"],
        "attention scores and\nweighted values (T = 1024)": f["attention scores q k^T"] + f["attention values w v"],
        "MLP (c_fc, c_proj)": f["mlp.c_fc"] + f["mlp.c_proj"],
        "output head\n(wte transposed)": f["lm_head"],
    }
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, data, title, unit, scale in (
        (axes[0], params, f"parameters: {sum(params.values()):,}", "millions of parameters", 1e6),
        (axes[1], flops, f"forward FLOPs per token: {sum(flops.values()):,}", "MFLOPs per token", 1e6),
    ):
        names = list(data)[::-1]
        values = [data[n] / scale for n in names]
        bars = ax.barh(names, values, color="#4C72B0")
        total = sum(data.values())
        for bar, n in zip(bars, names):
            amount = f"{data[n] / scale:.1f}" if data[n] >= 0.05 * scale else f"{data[n]:,} (not millions)"
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                    f"  {amount}, {100 * data[n] / total:.{1 if data[n] / total > 1e-3 else 2}f}%",
                    va="center", fontsize=9)
        ax.set_title(title)
        ax.set_xlabel(unit)
        ax.set_xlim(0, max(values) * 1.35)
        ax.tick_params(axis="y", labelsize=9)
    fig.suptitle("GPT-2 small (12 layers, 12 heads, 768 wide, 1024 context, 50,257 tokens)")
    fig.tight_layout()
    path = out_dir / "gpt2_124m_breakdown.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


@torch.no_grad()
def attention_weights(model: GPT, idx: torch.Tensor) -> list[torch.Tensor]:
    """The softmax weights of every layer, ``(B, n_head, T, T)`` each, for ``(B, T)`` ids.

    Records each block's attention input with a forward hook and recomputes
    ``softmax(q k^T / sqrt(hs))`` under the causal mask from its ``c_attn``.
    """
    inputs: list[torch.Tensor] = []
    hooks = [block.attn.register_forward_hook(lambda m, args, out: inputs.append(args[0]))
             for block in model.transformer.h]
    try:
        model(idx)
    finally:
        for h in hooks:
            h.remove()
    B, T = idx.shape
    nh, hs = model.config.n_head, model.config.head_size
    mask = torch.ones(T, T, dtype=torch.bool, device=idx.device).tril()
    out = []
    for block, x in zip(model.transformer.h, inputs):
        q, k, _ = block.attn.c_attn(x).split(model.config.n_embd, dim=2)   # 3 x (B, T, C)
        q = q.view(B, T, nh, hs).transpose(1, 2)                             # (B, nh, T, hs)
        k = k.view(B, T, nh, hs).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / math.sqrt(hs)                     # (B, nh, T, T)
        out.append(scores.masked_fill(~mask, float("-inf")).softmax(-1))
    return out


def train_tiny(steps: int = 600, batch_size: int = 32, seed: int = 0, log_every: int = 100):
    """The ``tiny`` preset trained on Tiny Shakespeare characters with AdamW.

    Returns ``(model, vocab, losses)``; about a minute for 600 steps on one CPU core.
    """
    text = read_text()
    vocab = CharVocab(text)
    data = torch.from_numpy(vocab.encode(text))
    torch.manual_seed(seed)
    config = GPTConfig.from_preset("tiny", vocab_size=len(vocab))
    model = GPT(config)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    T = config.block_size
    losses = []
    t0 = time.perf_counter()
    for step in range(steps):
        starts = torch.randint(0, len(data) - T - 1, (batch_size,), generator=g)
        x = torch.stack([data[s:s + T] for s in starts])           # (B, T)
        y = torch.stack([data[s + 1:s + T + 1] for s in starts])   # (B, T)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f"  tiny model step {step:4d}  loss {loss.item():.3f}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    return model.eval(), vocab, losses


def plot_attention(out_dir: Path, model: GPT, vocab: CharVocab, text: str) -> Path:
    idx = torch.from_numpy(vocab.encode(text))[None]                  # (1, T)
    weights = attention_weights(model, idx)
    L, nh = len(weights), model.config.n_head
    fig, axes = plt.subplots(L, nh, figsize=(3.2 * nh, 3.3 * L), squeeze=False)
    labels = [repr(ch)[1:-1] if ch in "\n\t" else ch for ch in text]
    for layer in range(L):
        for h in range(nh):
            ax = axes[layer][h]
            ax.imshow(weights[layer][0, h].numpy(), cmap="viridis", vmin=0, vmax=1)
            ax.set_title(f"layer {layer}, head {h}", fontsize=10)
            ax.set_xticks(range(len(text)), labels, fontsize=6)
            ax.set_yticks(range(len(text)), labels, fontsize=6)
            ax.tick_params(length=0)
    fig.suptitle("attention weights of the tiny preset (2 layers x 4 heads) after 600 steps on "
                 "Tiny Shakespeare; row = query, column = key")
    fig.tight_layout()
    path = out_dir / "attention_maps.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(out_dir: Path = OUT, steps: int = 600) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [plot_breakdown(out_dir)]
    model, vocab, losses = train_tiny(steps)
    print(f"  tiny model: loss {losses[0]:.2f} -> {sum(losses[-50:]) / min(50, len(losses)):.2f} "
          f"(mean of the last 50 steps)")
    paths.append(plot_attention(out_dir, model, vocab, "First Citizen:\nBefore we proceed"))
    return paths


if __name__ == "__main__":
    for p in main():
        print(p)
    sys.exit(0)
