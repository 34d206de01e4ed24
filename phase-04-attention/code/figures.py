"""Figures of phase 04's blog post (``make figures`` or ``python -m phase04.figures``).

- self_attention_toy.png     a toy sentence attending to itself, full and causal
- sqrt_dk_entropy.png        score spread and softmax entropy against d_k, with and without 1/sqrt(d_k)
- bahdanau_alignment.png     the alignment a trained Bahdanau model learns on digit reversal
- accuracy_by_length.png     drawn from the results ``python -m phase04.compare`` saved

The first three take about a minute together (the Bahdanau model trains here, on one core);
the last needs ``compare``'s results file, ``accuracy_by_length.json``, next to the figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from phase00.probability import entropy  # noqa: E402
from phase04.attention import masked_softmax, scaled_dot_product_attention  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "blog" / "figures"

TOY_SENTENCE = "the cat sat on the mat and the cat slept".split()


def toy_embeddings(words: list[str], dim: int = 32, seed: int = 0) -> np.ndarray:
    """One random unit vector per distinct word, ``(len(words), dim)``: equal words, equal rows."""
    rng = np.random.default_rng(seed)
    vocab = sorted(set(words))
    table = rng.standard_normal((len(vocab), dim))
    table /= np.linalg.norm(table, axis=1, keepdims=True)
    return table[[vocab.index(w) for w in words]]


def toy_self_attention(words: list[str] = TOY_SENTENCE, scale: float = 4.0):
    """Weights ``(2, T, T)`` of ``softmax(x x^T * scale)``, without and with the causal mask.

    With ``q = k = x`` (no learned projections) a word's best match is itself and its
    repeats, so the weights show "similar vectors attend to each other" in its plainest form.
    """
    x = toy_embeddings(words)[None]                         # (1, T, d)
    _, full = scaled_dot_product_attention(x, x, x, scale=scale)
    _, causal = scaled_dot_product_attention(x, x, x, scale=scale, is_causal=True)
    return np.concatenate([full.weights, causal.weights])   # (2, T, T)


def plot_toy_self_attention(path: Path) -> None:
    w = toy_self_attention()
    T = len(TOY_SENTENCE)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for ax, weights, title in zip(axes, w, ["every position sees every position",
                                             "causal: position t sees 0..t"]):
        im = ax.imshow(weights, cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(T), TOY_SENTENCE, rotation=60)
        ax.set_yticks(range(T), TOY_SENTENCE)
        ax.set_xlabel("key (attended to)")
        ax.set_title(title)
    axes[0].set_ylabel("query (attending)")
    fig.colorbar(im, ax=axes, shrink=0.8, label="attention weight")
    fig.suptitle("Toy self-attention, q = k = v = word vector: words find their repeats")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def sqrt_dk_statistics(dims=tuple(2**i for i in range(11)), n_keys: int = 16,
                       n_queries: int = 2000, seed: int = 0) -> dict[str, np.ndarray]:
    """For each ``d_k``: std of ``q . k`` and mean softmax entropy, unscaled and scaled.

    ``q`` and ``k`` have independent standard-normal components, as after a well-initialised
    projection. Returns arrays keyed ``dims``, ``std_raw``, ``std_scaled``, ``H_raw``, ``H_scaled``.
    """
    rng = np.random.default_rng(seed)
    out = {k: [] for k in ("std_raw", "std_scaled", "H_raw", "H_scaled")}
    for d in dims:
        q = rng.standard_normal((n_queries, 1, d))                   # (N, 1, d)
        k = rng.standard_normal((n_queries, n_keys, d))              # (N, S, d)
        s = (q @ k.transpose(0, 2, 1))[:, 0]                         # (N, S)
        for tag, scores in (("raw", s), ("scaled", s / np.sqrt(d))):
            out[f"std_{tag}"].append(scores.std())
            out[f"H_{tag}"].append(entropy(masked_softmax(scores)).mean())
    return {"dims": np.array(dims), **{k: np.array(v) for k, v in out.items()}}


def plot_sqrt_dk(path: Path, n_keys: int = 16, n_queries: int = 2000) -> None:
    st = sqrt_dk_statistics(n_keys=n_keys, n_queries=n_queries)
    d = st["dims"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.loglog(d, st["std_raw"], "o-", label="q . k")
    a1.loglog(d, st["std_scaled"], "s-", label="q . k / sqrt(d_k)")
    a1.loglog(d, np.sqrt(d), "k:", label="sqrt(d_k)")
    a1.set_xlabel("d_k")
    a1.set_ylabel("standard deviation of the score")
    a1.set_title("Scores spread like sqrt(d_k)")
    a1.legend()
    a2.semilogx(d, st["H_raw"], "o-", label="softmax(q . k)")
    a2.semilogx(d, st["H_scaled"], "s-", label="softmax(q . k / sqrt(d_k))")
    a2.axhline(np.log(n_keys), color="k", ls=":", label=f"uniform over {n_keys} keys")
    a2.set_xlabel("d_k")
    a2.set_ylabel("entropy of the weights (nats)")
    a2.set_ylim(0, np.log(n_keys) * 1.05)
    a2.set_title("Unscaled, the softmax collapses to one key")
    a2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_bahdanau_alignment(path: Path, model=None, seed: int = 0) -> None:
    """Draw a Bahdanau model's weights on one input (training a small one if none is given)."""
    from phase04.compare import alignment_example

    src, out, weights = alignment_example(seed=seed, model=model)
    fig, ax = plt.subplots(figsize=(6.4, 6))
    ax.imshow(weights, cmap="gray_r", vmin=0, vmax=1)
    ax.set_xticks(range(len(src)), list(src))
    ax.set_yticks(range(len(out)), list(out))
    ax.set_xlabel("input digit (encoder position)")
    ax.set_ylabel("output digit (decoder step)")
    ax.set_title("Bahdanau attention on reversal: the anti-diagonal")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_accuracy_by_length(path: Path, results: dict) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    lengths = results["lengths"]
    for name, acc in results["accuracy"].items():
        ax.plot(lengths, np.array(acc) * 100, "o-", label=name)
    lo, hi = results["train_lengths"]
    ax.axvspan(lo - 0.5, hi + 0.5, color="0.9", label="lengths seen in training")
    ax.set_xlabel("input length (digits)")
    ax.set_ylabel("exact-match accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.set_title("Reversing digit strings: one fixed vector vs attention")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main(out_dir: Path = OUT) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_toy_self_attention(out_dir / "self_attention_toy.png")
    plot_sqrt_dk(out_dir / "sqrt_dk_entropy.png")
    plot_bahdanau_alignment(out_dir / "bahdanau_alignment.png")
    results_file = out_dir / "accuracy_by_length.json"
    if results_file.is_file():
        plot_accuracy_by_length(out_dir / "accuracy_by_length.png", json.loads(results_file.read_text()))
    else:
        print(f"{results_file} is missing: run `python -m phase04.compare` to measure it")


if __name__ == "__main__":
    main()
