"""The training configuration: one dataclass, presets in code, every field a flag.

    python -m phase08.train --config shakespeare-char --n_layer=4 --lr 3e-4 --compile

Each field of ``TrainConfig`` is the flag of the same name (``--n_layer=4`` and
``--n_layer 4`` both work; a bool also takes ``--compile`` alone or ``--compile=false``).
A preset is a named set of field values; flags given on the command line win over it.
No configuration file is ever executed: the presets are plain dicts below.

See phase-08-training-gpt/notes/training-loop.md.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

from phase06.device import CHOICES as DEVICE_CHOICES
from phase07.gpt import GELUS as GPT_GELUS

DTYPES = ("auto", "float32", "bfloat16", "float16")
TOKENIZERS = ("char", "gpt2")
GELUS = tuple(GPT_GELUS)  # tanh, exact
ADAMW_IMPLS = ("auto", "fused", "foreach", "for-loop")


@dataclass
class TrainConfig:
    # --- where things go
    out_dir: str = "out/shakespeare-char"  # metrics.jsonl, ckpt.pt, config.json, loss.png
    data_dir: str = ""        # folder of train.bin/val.bin/meta.json; "" = Tiny Shakespeare, prepared on first use
    tokenizer: str = "char"   # tokenizer for the Tiny Shakespeare default: char or gpt2
    # --- the model (phase07.gpt.GPTConfig); the vocabulary size comes from meta.json
    n_layer: int = 6          # transformer blocks
    n_head: int = 6           # attention heads per block
    n_embd: int = 384         # residual stream width
    block_size: int = 256     # context length in tokens
    dropout: float = 0.2      # dropout probability while training
    gelu: str = "tanh"        # tanh (GPT-2) or exact (nanoGPT; about 4x faster on a CPU, see notes/cpu-recipe.md)
    vocab_multiple: int = 1   # pad the vocabulary up to a multiple of this (64 for GPT-2: 50257 -> 50304)
    # --- the optimisation
    batch_size: int = 64      # sequences per micro-batch, per process
    grad_accum: int = 1       # micro-batches per optimizer step, per process
    max_iters: int = 5000     # optimizer steps; the schedule is laid out over these
    lr: float = 1e-3          # peak learning rate, reached at the end of warmup
    min_lr: float = 1e-4      # floor of the cosine decay
    warmup_iters: int = 100   # linear warmup steps
    lr_decay_iters: int = 0   # the cosine ends here (0 = max_iters)
    weight_decay: float = 0.1  # decoupled decay, matrices only
    beta1: float = 0.9        # AdamW's first-moment decay
    beta2: float = 0.99       # AdamW's second-moment decay
    grad_clip: float = 1.0    # clip the global gradient norm to this (0 = off)
    adamw_impl: str = "auto"  # auto (fused where the device has it, else foreach), fused, foreach, for-loop
    # --- evaluation and logging
    eval_interval: int = 250  # evaluate, write metrics.jsonl and checkpoint every this many steps
    eval_iters: int = 200     # fixed validation (and training) batches per evaluation
    log_interval: int = 10    # one progress line every this many steps
    # --- the machine
    device: str = "auto"      # auto (cuda, then mps, then cpu), cuda, cuda:N, mps, cpu
    dtype: str = "auto"       # auto: bfloat16 autocast where supported (cuda, mps on macOS 14+), else float32
    compile: bool = False     # torch.compile the model
    threads: int = 0          # torch CPU threads (0 = torch's default)
    seed: int = 1337          # model init and data order
    max_seconds: float = 0.0  # wall-clock budget in seconds (0 = none); stops after the step that crosses it
    stop_iter: int = 0        # stop after this many steps (0 = max_iters); the schedule still follows max_iters
    resume: bool = False      # continue exactly from out_dir/ckpt.pt
    # --- at the end
    sample_tokens: int = 0    # print a sample of this many tokens (0 = none)
    sample_prompt: str = "ROMEO:"  # its prompt
    plot: bool = False        # write out_dir/loss.png
    peak_flops: float = 0.0   # the device's peak FLOP/s for MFU (0 = from phase08.flops.PEAKS)

    def validate(self) -> TrainConfig:
        """Raise ``ValueError`` naming the field and its limit; return self."""
        positive = ["n_layer", "n_head", "n_embd", "block_size", "batch_size", "grad_accum",
                    "max_iters", "eval_interval", "eval_iters", "log_interval", "vocab_multiple"]
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        nonneg = ["warmup_iters", "lr_decay_iters", "weight_decay", "grad_clip", "threads",
                  "max_seconds", "stop_iter", "sample_tokens", "min_lr", "peak_flops"]
        for name in nonneg:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr ({self.min_lr}) must not exceed lr ({self.lr})")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.warmup_iters > self.decay_iters:
            raise ValueError(f"warmup_iters ({self.warmup_iters}) must not exceed the decay length "
                             f"lr_decay_iters or max_iters ({self.decay_iters})")
        choices = {"tokenizer": TOKENIZERS, "dtype": DTYPES, "adamw_impl": ADAMW_IMPLS, "gelu": GELUS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.device.split(":")[0] not in DEVICE_CHOICES:
            raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)} (or cuda:N), got {self.device!r}")
        if not self.out_dir:
            raise ValueError("out_dir must not be empty")
        return self

    @property
    def decay_iters(self) -> int:
        """Where the cosine reaches ``min_lr``: ``lr_decay_iters``, or ``max_iters`` when 0."""
        return self.lr_decay_iters or self.max_iters

    def tokens_per_iter(self, world_size: int = 1) -> int:
        """Tokens in one optimizer step over all processes: B * T * accumulation * processes."""
        return self.batch_size * self.block_size * self.grad_accum * world_size

    def to_dict(self) -> dict:
        """Flags only (primitives), the form stored in config.json and in checkpoints."""
        return {f.name: getattr(self, f.name) for f in flag_fields()}

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in flag_fields()}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config fields {unknown}; known: {sorted(known)}")
        return cls(**d)


def flag_fields() -> list[dataclasses.Field]:
    """The fields of ``TrainConfig``: each is a command-line flag."""
    return list(dataclasses.fields(TrainConfig))


# ------------------------------------------------------------------------------ presets
# Each preset is a set of overrides of the defaults above, with a line saying what it is for.
PRESETS: dict[str, dict] = {
    # nanoGPT's baby GPT on Tiny Shakespeare: the model `make train` trains on a GPU or an M-series Mac.
    "shakespeare-char": dict(
        out_dir="out/shakespeare-char", n_layer=6, n_head=6, n_embd=384, block_size=256,
        dropout=0.2, batch_size=64, max_iters=5000, lr=1e-3, min_lr=1e-4, warmup_iters=100,
        beta2=0.99, eval_interval=250, eval_iters=200, log_interval=10,
        sample_tokens=500, plot=True),
    # the CPU recipe `make train` picks on a machine without a GPU: about 90 s on 2 cores. Two
    # layers where nanoGPT's CPU recipe has four, batch 16, exact GELU: it passes nanoGPT's
    # final val loss in less than half nanoGPT's time (notes/cpu-recipe.md has the search).
    "shakespeare-char-cpu": dict(
        out_dir="out/shakespeare-char-cpu", n_layer=2, n_head=4, n_embd=128, block_size=64,
        dropout=0.0, gelu="exact", batch_size=16, max_iters=3000, lr=3e-3, min_lr=3e-4,
        warmup_iters=50, beta2=0.99, weight_decay=0.1, eval_interval=200, eval_iters=20,
        log_interval=100, sample_tokens=500, plot=True),
    # nanoGPT README's CPU recipe, flag for flag, for the side-by-side benchmark.
    "nanogpt-cpu": dict(
        out_dir="out/nanogpt-cpu", n_layer=4, n_head=4, n_embd=128, block_size=64, dropout=0.0, gelu="exact",
        batch_size=12, max_iters=2000, lr_decay_iters=2000, lr=1e-3, min_lr=1e-4,
        warmup_iters=100, beta2=0.99, eval_interval=250, eval_iters=20, log_interval=1),
    # a model small enough for tests and smoke runs (seconds on a CPU).
    "tiny": dict(
        out_dir="out/tiny", n_layer=2, n_head=2, n_embd=32, block_size=32, dropout=0.0,
        batch_size=8, max_iters=50, lr=3e-3, min_lr=3e-4, warmup_iters=5, eval_interval=25,
        eval_iters=4, log_interval=10),
    # GPT-2 small (124M) on FineWeb-Edu: ~0.5M tokens per step, 5,000 steps = 2.5B tokens
    # (Chinchilla's 20 tokens per parameter). Prepare the data first (notes/m4-max-124m-plan.md).
    "gpt2-124m": dict(
        out_dir="out/gpt2-124m", data_dir="data/fineweb-edu-gpt2", tokenizer="gpt2",
        n_layer=12, n_head=12, n_embd=768, block_size=1024, dropout=0.0,
        vocab_multiple=64, batch_size=16, grad_accum=30, max_iters=5000, lr=6e-4, min_lr=6e-5,
        warmup_iters=700, beta2=0.95, weight_decay=0.1, eval_interval=250, eval_iters=50,
        log_interval=1, sample_tokens=200, sample_prompt="The meaning of life is", plot=True),
    # GPT-2 124M shape on Tiny Shakespeare with the GPT-2 tokenizer: the CPU benchmark shape.
    "gpt2-124m-shakespeare": dict(
        out_dir="out/gpt2-124m-shakespeare", tokenizer="gpt2", n_layer=12, n_head=12,
        n_embd=768, block_size=1024, dropout=0.0, vocab_multiple=64, batch_size=1,
        grad_accum=1, max_iters=100, lr=6e-4, min_lr=6e-5, warmup_iters=10, beta2=0.95,
        eval_interval=50, eval_iters=5, log_interval=1),
}

# `--config shakespeare-char --device auto` on a machine whose best device is the CPU.
CPU_PRESETS = {"shakespeare-char": "shakespeare-char-cpu"}


def preset(name: str) -> TrainConfig:
    """The config of a preset: ``preset("tiny").n_layer == 2``."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return TrainConfig(**PRESETS[name])


# ------------------------------------------------------------------------------ the flags
_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}


def parse_bool(text: str) -> bool:
    """``"true"``, ``"1"``, ``"yes"`` -> True; ``"false"``, ``"0"``, ``"no"`` -> False."""
    low = str(text).strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false/1/0/yes/no), got {text!r}")


def _type_of(f: dataclasses.Field):
    name = f.type if isinstance(f.type, str) else f.type.__name__
    return {"int": int, "float": float, "str": str, "bool": bool}[name]


def build_parser(prog: str = "python -m phase08.train", description: str | None = None,
                 preset_flag: str = "--config") -> argparse.ArgumentParser:
    """One flag per field; defaults are left out, so the parsed namespace holds only the
    flags actually given (they override the preset, and on ``--resume`` the checkpoint)."""
    p = argparse.ArgumentParser(prog=prog, description=description, allow_abbrev=False,
                                argument_default=argparse.SUPPRESS)
    p.add_argument(preset_flag, dest="config", default="shakespeare-char", choices=list(PRESETS),
                   help="the preset to start from (default: shakespeare-char)")
    add_field_flags(p)
    return p


def add_field_flags(p: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """``--name`` for every field of ``TrainConfig`` (bools also accept a bare ``--name``)."""
    for f in flag_fields():
        if f.name in skip:
            continue
        typ = _type_of(f)
        if typ is bool:
            p.add_argument(f"--{f.name}", type=parse_bool, nargs="?", const=True,
                           metavar="BOOL", help=f"(bool, default {f.default})")
        else:
            p.add_argument(f"--{f.name}", type=typ, metavar=typ.__name__.upper(),
                           help=f"(default {f.default!r})")


def parse_args(argv: list[str] | None = None, prog: str = "python -m phase08.train",
               preset_flag: str = "--config") -> tuple[TrainConfig, str, dict]:
    """``argv`` -> (validated config, preset name, the flags given explicitly).

    >>> cfg, name, given = parse_args(["--config", "tiny", "--n_layer=3", "--lr", "0.01"])
    >>> (name, cfg.n_layer, cfg.lr, cfg.n_embd, sorted(given))
    ('tiny', 3, 0.01, 32, ['lr', 'n_layer'])
    """
    parser = build_parser(prog, preset_flag=preset_flag)
    ns = vars(parser.parse_args(argv))
    name = ns.pop("config", "shakespeare-char")
    values = {**PRESETS[name], **ns}
    try:
        cfg = TrainConfig(**values).validate()
    except ValueError as e:
        parser.error(str(e))
    return cfg, name, ns
