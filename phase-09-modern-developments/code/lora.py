"""LoRA (Hu et al. 2021): fine-tune a frozen model through low-rank updates.

A frozen ``W`` (``out x in``) gets a trainable ``Delta W = (alpha / r) B A`` with ``A``
(``r x in``, small random) and ``B`` (``out x r``, zeros), so training starts exactly at the
base model and touches ``r (in + out)`` numbers per matrix instead of ``in * out``. After
training, ``merge_lora`` folds ``Delta W`` into ``W``: the same function, no extra cost.

Applied here to the phase-07 GPT's attention (``c_attn``, ``attn.c_proj``) and MLP
(``c_fc``, ``mlp.c_proj``) projections. ``python -m phase09.lora`` fine-tunes the small
Shakespeare model on GLOUCESTER's speeches. See phase-09-modern-developments/notes/lora.md.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
import torch.nn as nn

from phase00.data import read_text

TARGETS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


class LoRALinear(nn.Module):
    """``base(x) + (alpha / r) * x A^T B^T`` with ``base`` frozen."""

    def __init__(self, base: nn.Linear, r: int = 4, alpha: float = 8.0):
        super().__init__()
        if r < 1 or r > min(base.in_features, base.out_features):
            raise ValueError(f"LoRALinear: rank {r} must be in 1..{min(base.in_features, base.out_features)} "
                             f"for a {base.out_features}x{base.in_features} weight")
        self.base, self.r, self.scale = base, r, alpha / r
        for p in base.parameters():
            p.requires_grad_(False)
        kw = dict(dtype=base.weight.dtype, device=base.weight.device)
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, **kw))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, **kw))  # Delta W = 0 at the start
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scale  # (.., in) -> (.., r) -> (.., out)

    def delta_weight(self) -> torch.Tensor:
        return self.scale * self.lora_B @ self.lora_A                            # (out, in)

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` computing the same function."""
        lin = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None,
                        dtype=self.base.weight.dtype, device=self.base.weight.device)
        with torch.no_grad():
            lin.weight.copy_(self.base.weight + self.delta_weight())
            if self.base.bias is not None:
                lin.bias.copy_(self.base.bias)
        return lin


def add_lora(model: nn.Module, r: int = 4, alpha: float = 8.0, targets=TARGETS) -> list[str]:
    """Freeze ``model`` and wrap every ``nn.Linear`` whose name ends with one of ``targets``.
    Returns the wrapped names; ``ValueError`` if none matched."""
    for p in model.parameters():
        p.requires_grad_(False)
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.endswith(tuple(targets))]
    if not names:
        raise ValueError(f"add_lora: no nn.Linear in {type(model).__name__} ends with {targets}")
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, LoRALinear(getattr(parent, child), r, alpha))
    return names


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every ``LoRALinear`` by its merged ``nn.Linear`` (in place); returns ``model``."""
    for name, m in list(model.named_modules()):
        if isinstance(m, LoRALinear):
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, m.merged())
    return model


def trainable_fraction(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters, each counted once (a tied weight is one tensor)."""
    params = {id(p): p for p in model.parameters()}.values()
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def main(argv: list[str] | None = None) -> dict:
    """Fine-tune the small Shakespeare model on one character's speeches with LoRA."""
    from phase09.charlm import OUT, eval_loss, load_base, speeches_of, train

    ap = argparse.ArgumentParser(description="LoRA fine-tune on one character's speeches")
    ap.add_argument("--speaker", default="GLOUCESTER")
    ap.add_argument("--rank", type=int, default=4)
    ap.add_argument("--alpha", type=float, default=8.0)
    ap.add_argument("--seconds", type=float, default=60.0, help="fine-tuning wall time")
    ap.add_argument("--base-seconds", type=float, default=90.0, help="pretraining time if no cached base")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    model, vocab = load_base(args.base_seconds, out=__import__("pathlib").Path(args.out))
    speeches = speeches_of(read_text(), args.speaker)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(speeches))
    n_val = max(1, len(speeches) // 10)
    val = np.array(vocab.encode("\n".join(speeches[i] for i in order[:n_val])), dtype=np.int64)
    tr = np.array(vocab.encode("\n".join(speeches[i] for i in order[n_val:])), dtype=np.int64)
    print(f"{args.speaker}: {len(speeches)} speeches, {len(tr):,} train / {len(val):,} val characters")
    before = eval_loss(model, val)
    with torch.no_grad():
        probe = torch.from_numpy(val[None, :64]).long()
        logits_before = model(probe)
    add_lora(model, args.rank, args.alpha)
    n_train, n_total = trainable_fraction(model)
    print(f"LoRA r={args.rank}: {n_train:,} trainable of {n_total:,} ({100 * n_train / n_total:.2f}%)")
    with torch.no_grad():
        start_err = (model(probe) - logits_before).abs().max().item()
    print(f"at the start (B = 0) the adapted model equals the base: max |logit diff| {start_err:.1e}")
    steps = train(model, tr, args.seconds, lr=3e-3, seed=1)
    after = eval_loss(model, val)
    with torch.no_grad():
        unmerged = model(probe)
        merge_lora(model)
        merge_err = (model(probe) - unmerged).abs().max().item()
    print(f"{steps} steps; val loss on {args.speaker}'s held-out speeches: {before:.3f} -> {after:.3f}")
    print(f"merged vs unmerged logits: max |diff| {merge_err:.1e}")
    return dict(before=before, after=after, trainable=n_train, total=n_total, merge_err=merge_err)


if __name__ == "__main__":
    main()
