"""RLHF on a small scale (Ouyang et al. 2022): a reward model from preference pairs, then PPO.

The preference is programmatic so anyone can check it: **a lipogram** -- of two
completions, people "prefer" the one with fewer letters ``e`` per letter (``lipogram_score``).

1. Pairs: two sampled completions per prompt from the base model, labelled by the score.
2. Reward model (Bradley-Terry): ``P(a > b) = sigmoid(r(a) - r(b))``; its loss is
   ``-log sigmoid(r_chosen - r_rejected)``; accuracy on held-out pairs.
3. PPO (Schulman et al. 2017) against the reward model with a per-token KL penalty to the
   frozen base: ``r_t = -beta (log pi(a_t) - log pi_ref(a_t))``, plus the reward-model score on
   the last token; advantages by GAE; the clipped surrogate loss.

``python -m phase09.rlhf`` runs it in a few minutes on a CPU; ``python -m phase09.dpo``
optimises the same pairs directly. See phase-09-modern-developments/notes/rlhf-and-dpo.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from phase07.gpt import GPT

FIG_DIR = Path(__file__).resolve().parents[1] / "blog" / "figures"
PROMPT_LEN, COMPLETION_LEN = 16, 32


# -- the preference ------------------------------------------------------------------------

def lipogram_score(text: str) -> float:
    """``1 - (letters e or E) / letters``: 1.0 for a perfect lipogram.

    >>> lipogram_score("the cat"), lipogram_score("a cat")
    (0.8333333333333334, 1.0)
    """
    letters = [c for c in text if c.isalpha()]
    return 1.0 - sum(c in "eE" for c in letters) / max(1, len(letters))


# -- the losses and the arithmetic ---------------------------------------------------------

def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """``mean(-log sigmoid(r_chosen - r_rejected))``: the negative log-likelihood of the labels."""
    return -F.logsigmoid(r_chosen - r_rejected).mean()


def kl_penalized_rewards(logp: torch.Tensor, logp_ref: torch.Tensor, score: torch.Tensor,
                         beta: float) -> torch.Tensor:
    """Per-token rewards ``(B, N)``: ``-beta (logp - logp_ref)`` everywhere, plus ``score``
    ``(B,)`` on the last token (the reward model judges the whole completion)."""
    rewards = -beta * (logp - logp_ref)                            # (B, N)
    rewards[:, -1] += score
    return rewards


def gae(rewards: torch.Tensor, values: torch.Tensor, gamma: float = 1.0, lam: float = 0.95):
    """Generalised advantage estimation over ``(B, N)`` steps, the value after the last step 0.

    ``delta_t = r_t + gamma V_{t+1} - V_t``; ``A_t = delta_t + gamma lam A_{t+1}``;
    returns ``(advantages, returns = advantages + values)``. A loop over time: a recurrence.
    """
    B, N = rewards.shape
    adv = torch.zeros_like(rewards)
    last = torch.zeros(B, dtype=rewards.dtype)
    for t in reversed(range(N)):
        next_v = values[:, t + 1] if t + 1 < N else torch.zeros(B, dtype=values.dtype)
        delta = rewards[:, t] + gamma * next_v - values[:, t]
        last = delta + gamma * lam * last
        adv[:, t] = last
    return adv, adv + values


def ppo_policy_loss(logp: torch.Tensor, logp_old: torch.Tensor, adv: torch.Tensor,
                    clip: float = 0.2) -> torch.Tensor:
    """The clipped surrogate: ``-mean(min(rho A, clip(rho, 1-eps, 1+eps) A))``, ``rho = pi / pi_old``."""
    ratio = torch.exp(logp - logp_old)
    return -torch.minimum(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv).mean()


def sequence_kl(logp: torch.Tensor, logp_ref: torch.Tensor) -> torch.Tensor:
    """Monte-Carlo ``KL(pi || pi_ref)`` per sequence: ``sum_t (logp_t - logp_ref_t)`` on samples of pi."""
    return (logp - logp_ref).sum(-1)


# -- models --------------------------------------------------------------------------------

def scalar_model(base: GPT) -> GPT:
    """A copy of ``base`` whose head outputs one number per position (reward model, critic)."""
    m = copy.deepcopy(base)
    m.lm_head = nn.Linear(base.config.n_embd, 1)  # replaces the tied head
    nn.init.zeros_(m.lm_head.weight)
    nn.init.zeros_(m.lm_head.bias)
    for p in m.parameters():
        p.requires_grad_(True)
    return m


def reward(rm: GPT, tokens: torch.Tensor, prompt_len: int = PROMPT_LEN) -> torch.Tensor:
    """The reward model's score ``(B,)``: the mean of its per-position outputs over the completion."""
    return rm(tokens)[:, prompt_len:, 0].mean(-1)


def completion_logprobs(model: GPT, tokens: torch.Tensor, prompt_len: int = PROMPT_LEN) -> torch.Tensor:
    """``log pi(token_t | tokens_<t)`` for every completion token: ``(B, P + N) -> (B, N)``."""
    logits = model(tokens)[:, prompt_len - 1:-1]                       # (B, N, V)
    return torch.log_softmax(logits.float(), -1).gather(-1, tokens[:, prompt_len:, None])[..., 0]


@torch.no_grad()
def sample(model: GPT, prompts: torch.Tensor, n_new: int = COMPLETION_LEN, temperature: float = 1.0,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Append ``n_new`` sampled tokens to ``prompts`` ``(B, P)``."""
    model.eval()
    out = prompts
    for _ in range(n_new):
        logits = model(out[:, -model.config.block_size:])[:, -1] / temperature  # (B, V)
        out = torch.cat([out, torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)], 1)
    return out


def prompts_from(text_ids: np.ndarray, n: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(text_ids) - PROMPT_LEN, n)
    return torch.from_numpy(np.stack([text_ids[s:s + PROMPT_LEN] for s in starts])).long()


def preference_pairs(model: GPT, vocab, n: int, seed: int = 0):
    """``(chosen, rejected)`` token tensors ``(n', P + N)``: two samples per prompt, ties dropped."""
    from phase00.data import read_text

    text = read_text()
    ids = np.array(vocab.encode(text[int(0.9 * len(text)):]), dtype=np.int64)
    g = torch.Generator().manual_seed(seed)
    prompts = prompts_from(ids, n, seed)
    a, b = sample(model, prompts, generator=g), sample(model, prompts, generator=g)
    sa = torch.tensor([lipogram_score(vocab.decode(x[PROMPT_LEN:])) for x in a])
    sb = torch.tensor([lipogram_score(vocab.decode(x[PROMPT_LEN:])) for x in b])
    keep = sa != sb
    a_wins = (sa > sb)[keep, None]
    return torch.where(a_wins, a[keep], b[keep]), torch.where(a_wins, b[keep], a[keep])


def load_pairs(model: GPT, vocab, out: Path, n: int = 1600):
    path = out / "pairs.pt"
    if path.is_file():
        return torch.load(path, weights_only=True)
    pairs = preference_pairs(model, vocab, n)
    torch.save(pairs, path)
    return pairs


@torch.no_grad()
def evaluate(policy: GPT, ref: GPT, rm: GPT | None, vocab, n: int = 128, seed: int = 123) -> dict:
    """Mean lipogram score, reward-model score and KL to ``ref`` over ``n`` fresh samples."""
    from phase00.data import read_text

    text = read_text()
    ids = np.array(vocab.encode(text[int(0.9 * len(text)):]), dtype=np.int64)
    g = torch.Generator().manual_seed(seed)
    toks = sample(policy, prompts_from(ids, n, seed), generator=g)
    kl = sequence_kl(completion_logprobs(policy, toks), completion_logprobs(ref, toks)).mean().item()
    score = float(np.mean([lipogram_score(vocab.decode(t[PROMPT_LEN:])) for t in toks]))
    out = dict(score=score, kl=kl, samples=[vocab.decode(t) for t in toks[:4]])
    if rm is not None:
        out["rm"] = reward(rm, toks).mean().item()
    return out


def train_reward_model(base: GPT, chosen, rejected, steps: int = 300, lr: float = 1e-3, log=print):
    """Bradley-Terry on 90% of the pairs; returns the model and its held-out accuracy."""
    n_val = len(chosen) // 10
    rm = scalar_model(base)
    opt = torch.optim.AdamW(rm.parameters(), lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(0)
    for step in range(steps):
        rm.train()
        i = torch.randint(n_val, len(chosen), (64,), generator=g)
        loss = bradley_terry_loss(reward(rm, chosen[i]), reward(rm, rejected[i]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0:
            log(f"  reward model step {step + 1}: loss {loss.item():.3f}")
    rm.eval()
    with torch.no_grad():
        acc = (reward(rm, chosen[:n_val]) > reward(rm, rejected[:n_val])).float().mean().item()
    return rm, acc


def ppo(policy: GPT, ref: GPT, rm: GPT, vocab, iters: int = 40, batch: int = 64, beta: float = 0.05,
        epochs: int = 2, lr: float = 3e-4, log=print) -> GPT:
    """PPO with a KL penalty; the critic starts from the reward model."""
    from phase00.data import read_text

    text = read_text()
    ids = np.array(vocab.encode(text[: int(0.9 * len(text))]), dtype=np.int64)
    critic = copy.deepcopy(rm)
    opt_pi = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.0)
    opt_v = torch.optim.AdamW(critic.parameters(), lr=1e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(1)
    for it in range(iters):
        toks = sample(policy, prompts_from(ids, batch, 1000 + it), generator=g)   # (B, P + N)
        with torch.no_grad():
            logp_old = completion_logprobs(policy, toks)
            logp_ref = completion_logprobs(ref, toks)
            score = reward(rm, toks)
            values = critic(toks)[:, PROMPT_LEN - 1:-1, 0]                          # V(s_t), (B, N)
            rewards = kl_penalized_rewards(logp_old, logp_ref, score, beta)
            adv, ret = gae(rewards, values)
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        policy.train()
        critic.train()
        for _ in range(epochs):
            loss_pi = ppo_policy_loss(completion_logprobs(policy, toks), logp_old, adv)
            opt_pi.zero_grad(set_to_none=True)
            loss_pi.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            opt_pi.step()
            loss_v = F.mse_loss(critic(toks)[:, PROMPT_LEN - 1:-1, 0], ret)
            opt_v.zero_grad(set_to_none=True)
            loss_v.backward()
            opt_v.step()
        if (it + 1) % 10 == 0:
            kl = sequence_kl(logp_old, logp_ref).mean().item()
            log(f"  PPO iter {it + 1}: reward-model score {score.mean().item():.3f}, KL {kl:.2f}")
    policy.eval()
    return policy


def plot_results(out: Path, fig_dir: Path = FIG_DIR) -> Path | None:
    """Bar chart of score, reward-model score and KL before/after for PPO and DPO (what exists)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {name: json.loads((out / f"{name}.json").read_text())
            for name in ("rlhf", "dpo") if (out / f"{name}.json").is_file()}
    if not runs:
        return None
    labels = ["base"] + [{"rlhf": "PPO", "dpo": "DPO"}[k] for k in runs]
    first = next(iter(runs.values()))["before"]
    rows = [first] + [r["after"] for r in runs.values()]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    axes[0].bar(labels, [r["score"] for r in rows], color=["grey", "C0", "C1"][: len(rows)])
    axes[0].set_ylim(min(r["score"] for r in rows) - 0.03, 1.0)
    axes[0].set_title("lipogram score (1 - share of e)")
    axes[1].bar(labels, [r["kl"] for r in rows], color=["grey", "C0", "C1"][: len(rows)])
    axes[1].set_title("KL(policy || base), nats per completion")
    fig.tight_layout()
    fig_dir.mkdir(parents=True, exist_ok=True)
    path = fig_dir / "rlhf_dpo.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> dict:
    from phase09.charlm import OUT, load_base

    ap = argparse.ArgumentParser(description="reward model + PPO on a lipogram preference")
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--beta", type=float, default=0.05)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--fig-dir", type=Path, default=FIG_DIR)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    t0 = time.time()
    base, vocab = load_base(out=args.out)
    chosen, rejected = load_pairs(base, vocab, args.out)
    print(f"{len(chosen)} preference pairs (fewer e's wins), {time.time() - t0:.0f}s")
    rm, acc = train_reward_model(base, chosen, rejected)
    print(f"reward model: held-out accuracy {acc:.3f} on {len(chosen) // 10} pairs")
    ref = copy.deepcopy(base).requires_grad_(False)
    before = evaluate(base, ref, rm, vocab)
    policy = ppo(copy.deepcopy(base).requires_grad_(True), ref, rm, vocab, args.iters, beta=args.beta)
    after = evaluate(policy, ref, rm, vocab)
    for name, r in (("before", before), ("after PPO", after)):
        print(f"{name:>10}: lipogram score {r['score']:.3f}, reward model {r['rm']:.3f}, KL {r['kl']:.2f}")
    print("samples after PPO:\n" + "\n---\n".join(after["samples"][:3]))
    result = dict(rm_accuracy=acc, before=before, after=after, seconds=time.time() - t0)
    (args.out / "rlhf.json").write_text(json.dumps(result, indent=1))
    print(f"figure: {plot_results(args.out, args.fig_dir)}  ({time.time() - t0:.0f}s)")
    return result


if __name__ == "__main__":
    main()
