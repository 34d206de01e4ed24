"""DPO (Rafailov et al. 2023): the RLHF objective optimised directly on preference pairs.

The KL-regularised objective ``max E[r] - beta KL(pi || pi_ref)`` has the closed-form optimum
``pi*(y) = pi_ref(y) exp(r(y) / beta) / Z``. Solving for ``r`` and putting it into the
Bradley-Terry likelihood cancels ``Z``:

    loss = -log sigmoid(beta * [(log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))])

No reward model, no sampling during training. ``python -m phase09.dpo`` trains on the same
lipogram pairs as ``phase09.rlhf``. See phase-09-modern-developments/notes/rlhf-and-dpo.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from phase09.rlhf import FIG_DIR, completion_logprobs, evaluate, load_pairs, plot_results


def dpo_loss(logp_w: torch.Tensor, logp_l: torch.Tensor, ref_w: torch.Tensor, ref_l: torch.Tensor,
             beta: float = 0.1) -> torch.Tensor:
    """Mean DPO loss over pairs; each argument is a ``(B,)`` sum of completion log-probs."""
    margin = (logp_w - ref_w) - (logp_l - ref_l)   # difference of implicit rewards / beta
    return -F.logsigmoid(beta * margin).mean()


def train_dpo(policy, ref, chosen, rejected, steps: int = 150, beta: float = 0.1, lr: float = 3e-4,
              batch: int = 64, log=print):
    """DPO on the training 90% of the pairs (the first 10% are held out, as for the reward model)."""
    n_val = len(chosen) // 10
    with torch.no_grad():
        ref_w = completion_logprobs(ref, chosen).sum(-1)     # (n,) computed once
        ref_l = completion_logprobs(ref, rejected).sum(-1)
    opt = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(0)
    policy.train()
    for step in range(steps):
        i = torch.randint(n_val, len(chosen), (batch,), generator=g)
        loss = dpo_loss(completion_logprobs(policy, chosen[i]).sum(-1),
                        completion_logprobs(policy, rejected[i]).sum(-1), ref_w[i], ref_l[i], beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()
        if (step + 1) % 25 == 0:
            log(f"  DPO step {step + 1}: loss {loss.item():.3f}")
    policy.eval()
    with torch.no_grad():
        margin = ((completion_logprobs(policy, chosen[:n_val]).sum(-1) - ref_w[:n_val])
                  - (completion_logprobs(policy, rejected[:n_val]).sum(-1) - ref_l[:n_val]))
    return policy, (margin > 0).float().mean().item()


def main(argv: list[str] | None = None) -> dict:
    from phase09.charlm import OUT, load_base

    ap = argparse.ArgumentParser(description="DPO on the lipogram preference pairs")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--fig-dir", type=Path, default=FIG_DIR)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    t0 = time.time()
    base, vocab = load_base(out=args.out)
    chosen, rejected = load_pairs(base, vocab, args.out)
    print(f"{len(chosen)} preference pairs (fewer e's wins)")
    ref = copy.deepcopy(base).requires_grad_(False)
    before = evaluate(base, ref, None, vocab)
    policy, acc = train_dpo(copy.deepcopy(base).requires_grad_(True), ref, chosen, rejected,
                            args.steps, args.beta)
    after = evaluate(policy, ref, None, vocab)
    print(f"implicit-reward accuracy on held-out pairs: {acc:.3f}")
    for name, r in (("before", before), ("after DPO", after)):
        print(f"{name:>10}: lipogram score {r['score']:.3f}, KL {r['kl']:.2f}")
    print("samples after DPO:\n" + "\n---\n".join(after["samples"][:3]))
    result = dict(pair_accuracy=acc, before=before, after=after, seconds=time.time() - t0)
    (args.out / "dpo.json").write_text(json.dumps(result, indent=1))
    print(f"figure: {plot_results(args.out, args.fig_dir)}  ({time.time() - t0:.0f}s)")
    return result


if __name__ == "__main__":
    main()
