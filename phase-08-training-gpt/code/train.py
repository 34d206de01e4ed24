"""The trainer: ``python -m phase08.train --config shakespeare-char``.

One loop, read top to bottom (notes/training-loop.md walks through it line by line):

    for each optimizer step s:
        evaluate every eval_interval steps: fixed batches, metrics.jsonl, an atomic checkpoint
        lr = schedule(s)
        for each of grad_accum micro-batches:          (DDP syncs gradients on the last one)
            loss = model(x, y) / grad_accum; loss.backward()
        stop if the loss is NaN or inf (nothing new is saved)
        clip the global gradient norm; AdamW step; zero the gradients

Devices: ``--device auto`` picks CUDA, then MPS, then the CPU (``phase06.device``); on a
machine whose best device is the CPU, ``--config shakespeare-char`` becomes
``shakespeare-char-cpu`` (sized for minutes, not hours) and says so. Mixed precision:
``--dtype auto`` autocasts to bfloat16 on CUDA with bf16 support and on MPS with macOS 14+,
else runs float32; the chosen dtype is printed, and a requested dtype the device cannot run
is an error, never a quiet change. Several GPUs (or CPU processes):

    torchrun --standalone --nproc_per_node=8 -m phase08.train --config gpt2-124m

Output folder: ``config.json``, ``metrics.jsonl`` (one JSON object per evaluation: iter,
train_loss, val_loss, elapsed_s, tokens_seen, lr), ``ckpt.pt``; ``loss.png`` with ``--plot``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from phase06.device import pick_device
from phase07.gpt import GPT, GPTConfig
from phase08 import checkpoint as ckpt_lib
from phase08.config import CPU_PRESETS, PRESETS, TrainConfig, parse_args
from phase08.data import Sampler, open_split, read_meta, to_device
from phase08.flops import mfu, model_flops_per_token, peak_flops
from phase08.optim import make_adamw
from phase08.schedule import WarmupCosine, set_lr

# Fields a resumed run may change; anything else would make it a different run.
RESUMABLE = {"out_dir", "resume", "max_seconds", "stop_iter", "log_interval", "device", "compile",
             "threads", "sample_tokens", "sample_prompt", "plot", "eval_iters", "adamw_impl", "peak_flops"}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; training stopped without writing anything new."""


@dataclass
class TrainResult:
    out_dir: Path
    iter: int                     # optimizer steps done in total
    losses: list[float]           # the training loss of every step of this session
    evals: list[dict] = field(default_factory=list)  # the metrics rows of this session
    stop_reason: str = ""


# ------------------------------------------------------------------------------ set-up
@dataclass
class Dist:
    """Who this process is among ``world_size`` (torchrun sets RANK, LOCAL_RANK, WORLD_SIZE)."""
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def master(self) -> bool:
        return self.rank == 0


def init_distributed(device_spec: str) -> tuple[Dist, torch.device]:
    """Join the process group when launched by torchrun; NCCL on CUDA, gloo otherwise."""
    if "RANK" not in os.environ:
        return Dist(), pick_device(device_spec)
    d = Dist(int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ["WORLD_SIZE"]))
    device = pick_device(device_spec)
    if device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=d.rank, world_size=d.world_size)
    return d, device


def resolve_dtype(requested: str, device: torch.device) -> torch.dtype:
    """``auto`` -> bfloat16 where the device runs it well (CUDA with bf16, MPS on macOS 14+),
    else float32. A requested dtype the device cannot autocast to is a ``ValueError``."""
    kind = device.type
    mps_bf16 = kind == "mps" and _macos_at_least(14)
    if requested == "auto":
        if (kind == "cuda" and torch.cuda.is_bf16_supported()) or mps_bf16:
            return torch.bfloat16
        return torch.float32
    if requested == "bfloat16":
        if kind == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError("dtype=bfloat16: this GPU has no bfloat16 support; use float16 or float32")
        if kind == "mps" and not mps_bf16:
            raise ValueError("dtype=bfloat16 on MPS needs macOS 14 or newer "
                             f"(this is macOS {platform.mac_ver()[0] or 'unknown'}); use float32")
    if requested == "float16" and kind == "cpu":
        raise ValueError("dtype=float16 is for CUDA and MPS (with loss scaling); on the CPU use float32 or bfloat16")
    return DTYPES[requested]


def _macos_at_least(major: int) -> bool:
    version = platform.mac_ver()[0]
    return bool(version) and int(version.split(".")[0]) >= major


def autocast_context(device: torch.device, dtype: torch.dtype):
    """Autocast for bfloat16/float16; float32 runs as is (parameters stay float32 always)."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def resolve_data_dir(cfg: TrainConfig, d: Dist) -> Path:
    """``cfg.data_dir``, or Tiny Shakespeare prepared on first use (rank 0 prepares)."""
    if cfg.data_dir:
        return Path(cfg.data_dir)
    from phase08.prepare import prepared_shakespeare

    if d.master:
        folder = prepared_shakespeare(cfg.tokenizer)
    if d.enabled:
        dist.barrier()
    if not d.master:
        folder = prepared_shakespeare(cfg.tokenizer)  # already there: only checked
    return folder


def padded_vocab(vocab_size: int, multiple: int) -> int:
    """Round up to a multiple (50257 -> 50304 for 64): matmuls of round sizes run faster.

    >>> padded_vocab(50257, 64), padded_vocab(65, 1)
    (50304, 65)
    """
    return -(-vocab_size // multiple) * multiple


def build_model(cfg: TrainConfig, vocab_size: int) -> GPT:
    gcfg = GPTConfig(block_size=cfg.block_size, vocab_size=padded_vocab(vocab_size, cfg.vocab_multiple),
                     n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd, dropout=cfg.dropout,
                     gelu=cfg.gelu)
    return GPT(gcfg)


def merge_resume_config(saved: dict, given: dict) -> TrainConfig:
    """The checkpoint's config with the flags given now; only run-control fields may change."""
    changed = {k: v for k, v in given.items() if k in saved and saved[k] != v and k not in RESUMABLE}
    if changed:
        detail = ", ".join(f"{k}: checkpoint {saved[k]!r}, flag {v!r}" for k, v in changed.items())
        raise ValueError(f"--resume continues the run in the checkpoint; these flags would change it: "
                         f"{detail}. Only {', '.join(sorted(RESUMABLE))} may change on resume.")
    return TrainConfig.from_dict({**saved, **given, "resume": True}).validate()


# ------------------------------------------------------------------------------ the loop
def loss_fn(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mean next-token cross-entropy of one micro-batch (phase 07's loss)."""
    _, loss = model(x, y)
    return loss


def forward_backward(model, micro_batches, n: int, ctx, scaler, ddp: bool = False) -> torch.Tensor:
    """Accumulate the gradient of the mean loss over ``n`` micro-batches ``(x, y)``.

    Each micro-batch's loss is divided by ``n`` before ``backward``, so the summed
    gradients are those of the mean over all ``n`` micro-batches: exactly the gradient of
    one batch ``n`` times larger (for equal micro-batch sizes). Under DDP the gradients
    are all-reduced only on the last micro-batch (``no_sync`` on the others). Returns the
    mean loss (detached).
    """
    total = None
    for i, (x, y) in enumerate(micro_batches):
        last = i == n - 1
        with model.no_sync() if (ddp and not last) else contextlib.nullcontext():
            with ctx:
                loss = loss_fn(model, x, y) / n
            scaler.scale(loss).backward()
        total = loss.detach() if total is None else total + loss.detach()
    return total


def optimizer_step(model, optimizer, scaler, grad_clip: float) -> None:
    """Clip the global gradient norm (after unscaling, with float16), step, zero the gradients."""
    if grad_clip:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)


@torch.no_grad()
def evaluate(model, batches: dict, device, ctx, d: Dist) -> dict[str, float]:
    """Mean loss over the fixed batches of each split; each process evaluates its share of
    every batch and the sums are all-reduced."""
    was_training = model.training
    model.eval()
    out = {}
    for split, fixed in batches.items():
        total = 0.0
        for x, y in fixed:
            with ctx:
                total += loss_fn(model, to_device(x, device), to_device(y, device)).item()
        if d.enabled:  # gloo reduces CPU tensors, NCCL CUDA ones
            both = torch.tensor([total, len(fixed)], dtype=torch.float64,
                                device=device if device.type == "cuda" else "cpu")
            dist.all_reduce(both)
            total, count = both.tolist()
        else:
            count = len(fixed)
        out[split] = total / count
    model.train(was_training)
    return out


def _fmt_time(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def train(cfg: TrainConfig, *, given: dict | None = None, preset_name: str = "",
          log=print) -> TrainResult:
    """Train (or resume) per ``cfg``; returns the losses of this session. Raises
    ``ValueError`` / ``CheckpointError`` for bad set-ups, ``TrainingDiverged`` on NaN/inf."""
    given = dict(given or {})
    d, device = init_distributed(cfg.device)
    say = log if d.master else (lambda *a, **k: None)
    try:
        return _train(cfg, given, preset_name, d, device, say)
    finally:
        if d.enabled and dist.is_initialized():
            dist.destroy_process_group()


def _train(cfg: TrainConfig, given: dict, preset_name: str, d: Dist, device: torch.device, say) -> TrainResult:
    out = Path(cfg.out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir {str(out)!r} exists and is not a folder")
    ckpt_path = out / "ckpt.pt"
    state = None
    if cfg.resume:
        state = ckpt_lib.load(ckpt_path, map_location="cpu")
        cfg = merge_resume_config(state["config"], {**given, "out_dir": cfg.out_dir})
        if "stop_iter" not in given and 0 < cfg.stop_iter <= state["iter"]:
            cfg.stop_iter = 0  # the stop the checkpoint was written at is behind us: run on
    elif ckpt_path.exists():
        raise ValueError(f"{ckpt_path} exists: pass --resume to continue that run, "
                         "or choose another --out_dir")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    dtype = resolve_dtype(cfg.dtype, device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # float32 matmuls on tensor cores (TF32)
        torch.backends.cudnn.allow_tf32 = True

    # --- data
    data_dir = resolve_data_dir(cfg, d)
    meta = read_meta(data_dir)
    samplers = {split: Sampler(open_split(data_dir, split, meta), cfg.block_size, cfg.batch_size,
                               cfg.seed, cfg.grad_accum, d.world_size, d.rank)
                for split in ("train", "val")}
    eval_batches = {split: s.eval_batches(cfg.eval_iters) for split, s in samplers.items()}

    # --- model, optimizer, schedule
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, meta["vocab_size"]).to(device)
    optimizer, impl = make_adamw(model, cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2), device, cfg.adamw_impl)
    schedule = WarmupCosine(cfg.lr, cfg.min_lr, cfg.warmup_iters, cfg.decay_iters)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    start_iter, tokens_seen, elapsed_before = 0, 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule = WarmupCosine.from_state_dict(state["schedule"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        ckpt_lib.set_rng_state(state["rng"], device)
        start_iter, tokens_seen = state["iter"], state["tokens_seen"]
        elapsed_before = state["elapsed_s"]
        if state["sampler_step"] != start_iter:
            raise ckpt_lib.CheckpointError(f"{ckpt_path}: sampler position {state['sampler_step']} "
                                           f"does not match iteration {start_iter}")
        del state
    flops_token = model_flops_per_token(model)
    raw_model = model
    if cfg.compile:
        model = torch.compile(model)
    train_model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None) if d.enabled else model
    ctx = autocast_context(device, dtype)
    peak = cfg.peak_flops or peak_flops(device, dtype)
    end_iter = min(cfg.stop_iter, cfg.max_iters) if cfg.stop_iter else cfg.max_iters
    tokens_per_iter = cfg.tokens_per_iter(d.world_size)

    # --- the output folder
    if d.master:
        out.mkdir(parents=True, exist_ok=True)
        info = {**cfg.to_dict(), "preset": preset_name, "device": str(device), "dtype_run": str(dtype).replace("torch.", ""),
                "world_size": d.world_size, "adamw": impl, "parameters": raw_model.num_parameters(),
                "vocab_size": raw_model.config.vocab_size, "data_dir": str(data_dir),
                "tokens_per_iter": tokens_per_iter, "torch": str(torch.__version__)}
        (out / "config.json").write_text(json.dumps(info, indent=2) + "\n")
        _trim_metrics(out / "metrics.jsonl", keep_through=start_iter if cfg.resume else -1)
        say(f"{'resuming at iteration ' + str(start_iter) if cfg.resume else 'training'} "
            f"{preset_name or 'custom'}: {raw_model.num_parameters() / 1e6:.2f}M parameters, "
            f"{d.world_size} x {device} ({_device_name(device)}), {_dtype_words(dtype)}, AdamW {impl}, "
            f"{'compiled' if cfg.compile else 'eager'}, {torch.get_num_threads()} CPU threads")
        say(f"data {data_dir} ({meta['tokenizer']}, vocab {meta['vocab_size']}, "
            f"{meta['train_tokens']:,} train / {meta['val_tokens']:,} val tokens); "
            f"{tokens_per_iter:,} tokens per step = {cfg.batch_size} x {cfg.block_size} x {cfg.grad_accum} "
            f"accumulation x {d.world_size} processes; steps {start_iter} -> {end_iter} of {cfg.max_iters}")

    # --- the loop
    losses: list[float] = []
    evals: list[dict] = []
    it = start_iter
    t_session = time.perf_counter()
    t_window, it_window = t_session, it
    last_saved = start_iter if cfg.resume else None
    stop_reason = ""
    model.train()
    while True:
        session_s = time.perf_counter() - t_session
        if it >= end_iter:
            stop_reason = f"reached iteration {it}"
        elif cfg.max_seconds and session_s >= cfg.max_seconds:
            stop_reason = f"time budget of {cfg.max_seconds:g} s used at iteration {it}"
        if (it % cfg.eval_interval == 0 or stop_reason) and not (cfg.resume and it == start_iter):
            t_eval = time.perf_counter()
            ev = evaluate(raw_model if not cfg.compile else model, eval_batches, device, ctx, d)
            for split, value in ev.items():
                if not math.isfinite(value):
                    raise TrainingDiverged(f"{split} loss is {value} at iteration {it}; stopped, nothing saved"
                                           + _kept(ckpt_path, last_saved))
            row = {"iter": it, "train_loss": round(ev["train"], 6), "val_loss": round(ev["val"], 6),
                   "elapsed_s": round(elapsed_before + time.perf_counter() - t_session, 3),
                   "tokens_seen": tokens_seen, "lr": schedule(it)}
            evals.append(row)
            if d.master:
                with open(out / "metrics.jsonl", "a") as f:
                    f.write(json.dumps(row) + "\n")
                if it > 0 or stop_reason:
                    ckpt_lib.save_atomic(_state(raw_model, optimizer, schedule, scaler, cfg, it, tokens_seen,
                                                row["elapsed_s"], device, meta), ckpt_path)
                    last_saved = it
                say(f"eval  {it:>6} | train {ev['train']:.4f} | val {ev['val']:.4f} | "
                    f"{time.perf_counter() - t_eval:.1f} s" + (" | saved ckpt.pt" if last_saved == it else ""))
            if d.enabled:
                dist.barrier()
            t_window += time.perf_counter() - t_eval  # evaluation time is not training speed
        if stop_reason:
            break

        lr = schedule(it)
        set_lr(optimizer, lr)
        micro_batches = (tuple(to_device(a, device) for a in samplers["train"].micro_batch(it, m))
                         for m in range(cfg.grad_accum))
        loss_sum = forward_backward(train_model, micro_batches, cfg.grad_accum, ctx, scaler, d.enabled)
        if d.enabled:
            dist.all_reduce(loss_sum, op=dist.ReduceOp.AVG)
        loss_value = loss_sum.item()
        if not math.isfinite(loss_value):
            raise TrainingDiverged(f"training loss is {loss_value} at iteration {it}; stopped before the "
                                   "optimizer step, nothing saved" + _kept(ckpt_path, last_saved))
        optimizer_step(raw_model, optimizer, scaler, cfg.grad_clip)
        losses.append(loss_value)
        it += 1
        tokens_seen += tokens_per_iter

        if it % cfg.log_interval == 0 or it == end_iter:
            now = time.perf_counter()
            dt = (now - t_window) / max(1, it - it_window)
            tok_s = tokens_per_iter / dt
            util = mfu(tok_s, flops_token, peak, d.world_size)
            left = (end_iter - it) * dt
            if cfg.max_seconds:
                left = min(left, max(0.0, cfg.max_seconds - (now - t_session)))
            say(f"iter {it:>6} | loss {loss_value:.4f} | lr {lr:.2e} | {dt * 1e3:7.1f} ms/iter | "
                f"{tok_s:9,.0f} tok/s | MFU {'n/a' if util is None else f'{100 * util:4.1f}%'} | "
                f"ETA {_fmt_time(left)}")
            t_window, it_window = now, it

    say(f"stopped: {stop_reason}; {out}/ckpt.pt holds iteration {last_saved}")
    result = TrainResult(out, it, losses, evals, stop_reason)
    if d.master:
        _finish(cfg, out, raw_model, meta, device, say)
    return result


def _kept(ckpt_path: Path, last_saved: int | None) -> str:
    if last_saved is None:
        return " (no checkpoint had been written yet)"
    return f" ({ckpt_path} still holds iteration {last_saved})"


def _state(model, optimizer, schedule, scaler, cfg, it, tokens_seen, elapsed_s, device, meta) -> dict:
    """Everything the next step depends on, as tensors and primitives (weights_only loads it)."""
    return {
        "format": ckpt_lib.FORMAT, "version": ckpt_lib.VERSION,
        "iter": it, "sampler_step": it, "tokens_seen": tokens_seen, "elapsed_s": elapsed_s,
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(), "scaler": scaler.state_dict() if scaler.is_enabled() else {},
        "config": cfg.to_dict(), "rng": ckpt_lib.rng_state(device), "meta": meta,
        "torch_version": str(torch.__version__),
    }


def _trim_metrics(path: Path, keep_through: int) -> None:
    """A fresh run starts an empty metrics.jsonl; a resumed one drops rows after its checkpoint."""
    if keep_through < 0 or not path.exists():
        path.write_text("")
        return
    rows = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [r for r in rows if json.loads(r)["iter"] <= keep_through]
    path.write_text("".join(r + "\n" for r in kept))


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return f"Apple GPU, macOS {platform.mac_ver()[0]}"
    return platform.processor() or platform.machine()


def _dtype_words(dtype: torch.dtype) -> str:
    if dtype == torch.float32:
        return "float32"
    return f"autocast {str(dtype).replace('torch.', '')} (weights and AdamW in float32)"


def _finish(cfg: TrainConfig, out: Path, model: GPT, meta: dict, device, say) -> None:
    """The end of a run: a sample and the loss curve, as the config asks."""
    if cfg.sample_tokens:
        from phase08.sample import sample_text

        text = sample_text(model, meta, cfg.sample_prompt, cfg.sample_tokens, temperature=0.8,
                           top_k=200, seed=cfg.seed, device=device)
        say(f"--- sample ({cfg.sample_tokens} tokens, temperature 0.8, top_k 200) ---\n{text}\n---")
    if cfg.plot:
        from phase08.plot import plot_run

        png = plot_run(out)
        say(f"loss curve: {png}")


# ------------------------------------------------------------------------------ DDP on one machine
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawned(rank: int, world_size: int, port: int, cfg_dict: dict, queue) -> None:
    """One process of ``launch_local``: the environment torchrun would give it, then ``train``."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo0" if sys.platform == "darwin" else "lo")
    result = train(TrainConfig.from_dict(cfg_dict), log=lambda *a, **k: None)
    if rank == 0:
        queue.put({"iter": result.iter, "losses": result.losses, "evals": result.evals,
                   "stop_reason": result.stop_reason})


def launch_local(cfg: TrainConfig, world_size: int) -> TrainResult:
    """Train ``cfg`` with DDP in ``world_size`` processes on this machine (gloo on
    127.0.0.1; on CUDA each process takes its own GPU), as ``torchrun --nproc_per_node``
    would; returns rank 0's result. For trying DDP on a laptop, and for the tests."""
    import torch.multiprocessing as mp

    queue = mp.get_context("spawn").SimpleQueue()
    mp.spawn(_spawned, args=(world_size, _free_port(), cfg.to_dict(), queue), nprocs=world_size, join=True)
    r = queue.get()
    return TrainResult(Path(cfg.out_dir), r["iter"], r["losses"], r["evals"], r["stop_reason"])


# ------------------------------------------------------------------------------ command line
def main(argv: list[str] | None = None) -> int:
    cfg, name, given = parse_args(argv)
    if name in CPU_PRESETS and cfg.device == "auto" and not cfg.resume:
        try:
            best = pick_device("auto")
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        if best.type == "cpu" and "RANK" not in os.environ:
            cpu_name = CPU_PRESETS[name]
            print(f"no GPU found: --config {name} becomes {cpu_name} on the CPU "
                  f"(pass --device cpu to train {name} itself on the CPU)")
            name = cpu_name
            cfg = TrainConfig(**{**PRESETS[name], **given}).validate()
    try:
        result = train(cfg, given=given, preset_name=name)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except (ValueError, OSError) as e:  # bad set-ups and paths, CheckpointError included
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0 if result is not None else 1


if __name__ == "__main__":
    sys.exit(main())
