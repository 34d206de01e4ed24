"""One training step of the NumPy GPT (phase 05) against the same model in PyTorch eager.

    python benchmarks/phase05_step.py                   # 4 layers, d_model 128, 4 heads, T 64, B 32
    python benchmarks/phase05_step.py --threads 2 --rounds 30

A step is forward, cross-entropy, backward and AdamW, float32, on the CPU. The torch model
is written here (phase 06 owns the reusable rebuild) with the NumPy model's parameter
names, so ``load_state_dict`` copies the weights; the program checks that both give the same
first loss. Both sides get the same number of BLAS / intra-op threads (``--threads``).

The steps alternate, NumPy then torch, round after round, so that a change in the load of a
shared machine hits both; the figure is the ratio of the medians. Target: NumPy <= 2.0x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--vocab-size", type=int, default=65)
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (NumPy) = intra-op threads (torch)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--torch-attention", choices=["sdpa", "explicit"], default="sdpa",
                   help="F.scaled_dot_product_attention, or softmax(q k^T) v written out")
    return p.parse_args(argv)


args = parse(sys.argv[1:] if __name__ == "__main__" else [])
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)           # before NumPy and torch load their libraries

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from phase01.losses import SoftmaxCrossEntropy  # noqa: E402
from phase01.optim import AdamW  # noqa: E402
from phase05.lm import GPT, GPTConfig  # noqa: E402
from phase05.train_lm import param_groups  # noqa: E402


class TorchAttention(nn.Module):
    def __init__(self, c: GPTConfig, explicit: bool):
        super().__init__()
        self.n_head, self.explicit = c.n_head, explicit
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd)
        self.c_proj = nn.Linear(c.n_embd, c.n_embd)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)                           # 3 x (B, T, C)
        q, k, v = (a.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for a in (q, k, v))
        if self.explicit:
            att = (q @ k.transpose(-2, -1)) / (k.shape[-1] ** 0.5)          # (B, nh, T, T)
            mask = torch.ones(T, T, dtype=torch.bool).tril()
            y = att.masked_fill(~mask, float("-inf")).softmax(dim=-1) @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)     # (B, nh, T, hs)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class TorchMLP(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd)
        self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class TorchBlock(nn.Module):
    def __init__(self, c: GPTConfig, explicit: bool):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(c.n_embd), TorchAttention(c, explicit)
        self.ln2, self.mlp = nn.LayerNorm(c.n_embd), TorchMLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TorchGPT(nn.Module):
    """The NumPy GPT's twin, with the same parameter names."""

    def __init__(self, c: GPTConfig, explicit: bool = False):
        super().__init__()
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Embedding(c.block_size, c.n_embd)
        self.blocks = nn.ModuleList(TorchBlock(c, explicit) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight                              # tied

    def forward(self, idx):
        x = self.wte(idx) + self.wpe.weight[: idx.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def groups(named, wd=0.1):
    """Weight decay on matrices only, as phase05.train_lm does."""
    named = list(named)
    return [{"params": [p for _, p in named if p.ndim >= 2], "weight_decay": wd},
            {"params": [p for _, p in named if p.ndim < 2], "weight_decay": 0.0}]


def main() -> int:
    torch.set_num_threads(args.threads)
    cfg = GPTConfig(vocab_size=args.vocab_size, block_size=args.block_size, n_layer=args.n_layer,
                    n_head=args.n_head, n_embd=args.n_embd)
    rng = np.random.default_rng(0)
    model = GPT(cfg, rng=rng)                                              # float32
    tmodel = TorchGPT(cfg, explicit=args.torch_attention == "explicit")
    tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    named = [(n, p.data) for n, p in model.named_parameters()]
    opt = AdamW(param_groups(model, 0.1), lr=1e-3)
    topt = torch.optim.AdamW(groups(tmodel.named_parameters()), lr=1e-3)
    loss_fn = SoftmaxCrossEntropy()
    x = rng.integers(0, cfg.vocab_size, size=(args.batch_size, cfg.block_size))
    y = rng.integers(0, cfg.vocab_size, size=(args.batch_size, cfg.block_size))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def numpy_step() -> float:
        model.zero_grad()
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        return loss

    def torch_step() -> float:
        topt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(tmodel(xt).view(-1, cfg.vocab_size), yt.view(-1))
        loss.backward()
        topt.step()
        return loss.item()

    l_np, l_t = numpy_step(), torch_step()
    print(f"GPT {cfg.n_layer} layers, d_model {cfg.n_embd}, {cfg.n_head} heads, context "
          f"{cfg.block_size}, batch {args.batch_size}, vocab {cfg.vocab_size}: "
          f"{model.num_parameters():,} parameters ({len(named)} tensors), float32, "
          f"{args.threads} thread(s), torch {torch.__version__} ({args.torch_attention} attention), "
          f"NumPy {np.__version__}")
    print(f"first loss: NumPy {l_np:.6f}, torch {l_t:.6f} (difference {abs(l_np - l_t):.1e})")
    if abs(l_np - l_t) > 1e-4:                     # float32, same weights: ~1e-6
        print("the two models disagree; the benchmark would compare different things")
        return 1
    for _ in range(args.warmup):
        numpy_step()
        torch_step()
    t_np, t_t = [], []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        numpy_step()
        t1 = time.perf_counter()
        torch_step()
        t2 = time.perf_counter()
        t_np.append(t1 - t0)
        t_t.append(t2 - t1)
    m_np, m_t = statistics.median(t_np), statistics.median(t_t)
    tokens = args.batch_size * cfg.block_size
    print(f"{'':8} {'median ms/step':>15} {'min ms/step':>12} {'tokens/s':>10}")
    print(f"{'NumPy':8} {1000 * m_np:>15.1f} {1000 * min(t_np):>12.1f} {tokens / m_np:>10,.0f}")
    print(f"{'torch':8} {1000 * m_t:>15.1f} {1000 * min(t_t):>12.1f} {tokens / m_t:>10,.0f}")
    print(f"ratio NumPy / torch: {m_np / m_t:.2f}x (median), {min(t_np) / min(t_t):.2f}x (min); target <= 2.0x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
