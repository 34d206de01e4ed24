"""Figures of phase 03's blog post (``make figures`` or ``python -m phase03.figures``).

- compression.png     bytes per token against vocabulary size: characters, words, our BPE
                      (trained on the first 90% of Tiny Shakespeare, measured on the last 10%)
                      and GPT-2's tokenizer; and the share of unknown words at word level
- gpt2_tokens.png     how GPT-2's tokenizer cuts a few tricky strings, as coloured boxes
- word2vec_pca.png    chosen words' word2vec vectors in their first two principal components
                      (trains word2vec: a few minutes; ``--skip-word2vec`` leaves it out)
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

from phase00.data import read_text, train_val_split  # noqa: E402
from phase03.gpt2_tokenizer import GPT2Tokenizer  # noqa: E402
from phase03.tokenizer import CharTokenizer, RegexBPETokenizer, WordTokenizer  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "blog" / "figures"

BPE_SIZES = [256, 320, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192]
WORD_SIZES = [500, 1000, 2000, 4000, 8000]
TRICKY = [
    "Hello world! hello  world!",
    "I don't think you'll DON'T",
    "1234567 + 89 = 1234656",
    " SolidGoldMagikarp",
    "naïve café",
    "日本語 🙂",
    "    return x\n",
]


def compression_curves(train: str, val: str) -> dict[str, list[tuple[int, float]]]:
    """``{name: [(vocab size, bytes per token on val), ...]}``, and for word-level tokens the
    share of held-out tokens that are unknown, ``"words: % <unk>"``."""
    n_bytes = len(val.encode("utf-8"))
    curves: dict[str, list[tuple[int, float]]] = {}
    char = CharTokenizer().train(train + val)  # the closed 65-character alphabet
    curves["characters"] = [(char.vocab_size, n_bytes / len(char.encode(val)))]
    words, unknown = [], []
    for v in WORD_SIZES:
        ids = WordTokenizer().train(train, v).encode(val)
        words.append((v, n_bytes / len(ids)))
        unknown.append((v, 100.0 * ids.count(0) / len(ids)))
    curves["words"] = words
    curves["words: % <unk>"] = unknown
    big = RegexBPETokenizer().train(train, max(BPE_SIZES))
    merges = list(big.merges.items())
    points = []
    for v in BPE_SIZES:
        tok = RegexBPETokenizer(merges=dict(merges[: v - 256]))  # the first v - 256 merges
        points.append((v, n_bytes / len(tok.encode(val))))
    curves["our byte-level BPE, GPT-2 split"] = points
    gpt2 = GPT2Tokenizer.load()
    curves["GPT-2 (trained on WebText)"] = [(gpt2.vocab_size, n_bytes / len(gpt2.encode(val)))]
    return curves


def plot_compression(curves: dict[str, list[tuple[int, float]]], path: Path) -> None:
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.3), gridspec_kw={"width_ratios": [1.6, 1]})
    styles = {"characters": dict(marker="s", color="tab:gray"),
              "words": dict(marker="^", ls="--", color="tab:green"),
              "our byte-level BPE, GPT-2 split": dict(marker="o", color="tab:blue"),
              "GPT-2 (trained on WebText)": dict(marker="*", ms=12, ls="", color="tab:red")}
    for name, style in styles.items():
        xs, ys = zip(*curves[name])
        label = name + (" (lossy: see right)" if name == "words" else "")
        ax.plot(xs, ys, label=label, **style)
    for v, b in curves["our byte-level BPE, GPT-2 split"] + curves["GPT-2 (trained on WebText)"]:
        if v in (256, 512, 1024, 4096, 8192, 50257):
            ax.annotate(f"{b:.2f}", (v, b), xytext=(-8, -13), textcoords="offset points", fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("vocabulary size (tokens)")
    ax.set_ylabel("bytes per token")
    ax.set_title("Compression of held-out Tiny Shakespeare", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    xs, ys = zip(*curves["words: % <unk>"])
    ax2.plot(xs, ys, marker="^", ls="--", color="tab:green", label="words")
    ax2.axhline(0.0, color="tab:blue", label="byte-level BPE (never unknown)")
    ax2.set_xscale("log", base=2)
    ax2.set_xlabel("vocabulary size (tokens)")
    ax2.set_ylabel("held-out tokens that are <unk> (%)")
    ax2.set_title("What word-level tokens lose", fontsize=10)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def token_label(token: bytes) -> str:
    """What a box shows: the token's text with visible spaces, or its bytes in hex when the
    token is not whole UTF-8 (or uses glyphs the default font lacks)."""
    try:
        text = token.decode("utf-8")
    except UnicodeDecodeError:
        return token.hex(" ")
    if any(ord(c) > 0x24FF for c in text):
        return token.hex(" ")
    return text.replace(" ", "\u2423").replace("\n", "\u21b5")


def plot_gpt2_tokens(strings: list[str], path: Path) -> None:
    tok = GPT2Tokenizer.load()
    char_w, pad, gap, row_h = 0.105, 0.08, 0.04, 1.0  # inches per monospace character, ...
    rows = []
    for s in strings:
        ids = tok.encode(s)
        rows.append((s, [(token_label(tok.vocab[i]), i) for i in ids]))
    width = max(sum(len(lbl) * char_w + pad + gap for lbl, _ in r) for _, r in rows) + 0.4
    fig, ax = plt.subplots(figsize=(max(width, 6.0), row_h * len(rows) + 0.6))
    ax.set_xlim(0, max(width, 6.0))
    ax.set_ylim(-row_h * len(rows), 0.5)
    ax.axis("off")
    colors = ["#cfe2f3", "#fce5cd", "#d9ead3", "#ead1dc", "#fff2cc", "#d0e0e3"]
    for r, (s, tokens) in enumerate(rows):
        y = -r * row_h
        shown = "".join(c if ord(c) <= 0x24FF else ascii(c)[1:-1] for c in repr(s))  # no CJK/emoji font
        n = f"{len(tokens)} token" + ("s" if len(tokens) != 1 else "")
        ax.text(0.05, y + 0.22, f"{shown}  ->  {n}", fontsize=8, color="0.3", va="bottom")
        x = 0.05
        for k, (label, i) in enumerate(tokens):
            w = len(label) * char_w + pad
            ax.add_patch(FancyBboxPatch((x, y - 0.3), w, 0.42, boxstyle="round,pad=0.01",
                                        fc=colors[k % len(colors)], ec="0.4", lw=0.6))
            ax.text(x + w / 2, y - 0.09, label, ha="center", va="center", family="monospace", fontsize=9)
            ax.text(x + w / 2, y - 0.42, str(i), ha="center", va="center", fontsize=6, color="0.35")
            x += w + gap
    ax.set_title("GPT-2's tokenizer on tricky strings (\u2423 = space, \u21b5 = newline, hex = raw bytes)",
                 fontsize=10, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(out_dir: Path = OUT, word2vec: bool = True) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train, val = train_val_split(read_text())
    curves = compression_curves(train, val)
    for name, pts in curves.items():
        print(f"{name}: " + ", ".join(f"{v}: {b:.3f}" for v, b in pts))
    plot_compression(curves, out_dir / "compression.png")
    plot_gpt2_tokens(TRICKY, out_dir / "gpt2_tokens.png")
    if word2vec:
        from phase03 import word2vec as w2v

        vocab, model, _ = w2v.train(read_text(), w2v.Word2VecConfig())
        w2v.plot_pca(vocab, model.in_embed.weight.data, w2v.PCA_WORDS, out_dir / "word2vec_pca.png")


if __name__ == "__main__":
    main(OUT, word2vec="--skip-word2vec" not in sys.argv[1:])
