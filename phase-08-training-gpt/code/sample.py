"""Text from a trained checkpoint.

    python -m phase08.sample --ckpt out/shakespeare-char-cpu --prompt "ROMEO:" \\
        --max_new_tokens 500 --temperature 0.8 --top_k 200

The checkpoint carries the config and the data set's ``meta.json`` (for the character
tokenizer, its characters), so nothing but the checkpoint is needed. Generation is
phase 07's ``generate`` (KV cache, temperature, top-k, top-p), seeded.
"""

from __future__ import annotations

import argparse
import sys

import torch

from phase06.device import CHOICES, pick_device
from phase07.generate import generate, print_stream
from phase08 import checkpoint as ckpt_lib
from phase08.config import TrainConfig
from phase08.prepare import tokenizer_from_meta


def load_model(ckpt: str, device: torch.device):
    """``(model, meta, state)`` from a checkpoint file or an output folder."""
    from phase08.train import build_model

    state = ckpt_lib.load(ckpt, map_location="cpu")
    cfg = TrainConfig.from_dict(state["config"])
    meta = state.get("meta") or {}
    if "vocab_size" not in meta:
        raise ckpt_lib.CheckpointError(f"{ckpt}: the checkpoint carries no data meta (tokenizer)")
    model = build_model(cfg, meta["vocab_size"])
    model.load_state_dict(state["model"])
    return model.to(device).eval(), meta, state


def _decoder(tok, vocab_size: int):
    """Decode, dropping ids of the padded vocabulary rows (never real tokens)."""
    return lambda ids: tok.decode([i for i in ids if i < vocab_size])


def sample_text(model, meta: dict, prompt: str, max_new_tokens: int, temperature: float = 0.8,
                top_k: int | None = 200, top_p: float | None = None, seed: int = 1337,
                device: torch.device | str = "cpu", stream: bool = False) -> str:
    """The prompt and ``max_new_tokens`` sampled tokens, as text."""
    tok = tokenizer_from_meta(meta)
    ids = tok.encode(prompt) if prompt else []
    if not ids:  # an empty prompt starts from a newline (char) or <|endoftext|> (gpt2)
        ids = [meta["eot_token"]] if "eot_token" in meta else tok.encode("\n")
    decode = _decoder(tok, meta["vocab_size"])
    idx = torch.tensor([ids], dtype=torch.long, device=device)
    try:
        gen = torch.Generator(device=torch.device(device))
        gen.manual_seed(seed)
    except RuntimeError:  # a device without its own generator objects: seed the global one
        gen = None
        torch.manual_seed(seed)
    on_token = print_stream(decode) if stream else None
    if stream:
        print(prompt, end="", flush=True)
    out = generate(model, idx, max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                   generator=gen, on_token=on_token)
    if stream:
        print()
    return (prompt if prompt else "") + decode(out[0, len(ids):].tolist())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m phase08.sample", allow_abbrev=False,
                                description="Sample text from a phase08.train checkpoint.")
    p.add_argument("--ckpt", required=True, help="an output folder (its ckpt.pt) or a checkpoint file")
    p.add_argument("--prompt", default="ROMEO:", help="the text to continue (default ROMEO:)")
    p.add_argument("--max_new_tokens", type=int, default=500)
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    p.add_argument("--top_k", type=int, default=200, help="0 = off")
    p.add_argument("--top_p", type=float, default=None)
    p.add_argument("--num_samples", type=int, default=1)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--device", default="auto", help=f"one of {', '.join(CHOICES)}")
    args = p.parse_args(argv)
    if args.max_new_tokens < 0 or args.num_samples < 1 or args.temperature < 0 or args.top_k < 0:
        p.error("max_new_tokens, top_k and temperature must be >= 0 and num_samples >= 1")
    try:
        device = pick_device(args.device)
        model, meta, state = load_model(args.ckpt, device)
        print(f"# {args.ckpt}: iteration {state['iter']}, {model.num_parameters() / 1e6:.2f}M parameters, "
              f"{meta['tokenizer']} tokens, {device}", file=sys.stderr)
        for i in range(args.num_samples):
            sample_text(model, meta, args.prompt, args.max_new_tokens, args.temperature,
                        args.top_k or None, args.top_p, args.seed + i, device, stream=True)
            if i + 1 < args.num_samples:
                print("---")
    except ValueError as e:  # CheckpointError, a prompt the tokenizer cannot encode, bad device
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
