"""Phase 08: training GPT, from Tiny Shakespeare on a laptop CPU to GPT-2 124M.

- ``phase08.config``      ``TrainConfig`` (every field is a command-line flag) and the presets
- ``phase08.prepare``     text files -> ``train.bin`` / ``val.bin`` / ``meta.json`` (phase-03 tokenizers)
- ``phase08.data``        memory-mapped token windows, sampled by a seeded generator
- ``phase08.schedule``    linear warmup then cosine decay of the learning rate
- ``phase08.optim``       AdamW with weight decay on matrices only
- ``phase08.checkpoint``  atomic checkpoints that resume exactly, loaded with ``weights_only=True``
- ``phase08.flops``       the 6N rule, MFU and the table of peak FLOP/s
- ``phase08.train``       the trainer: ``python -m phase08.train --config shakespeare-char``
- ``phase08.sample``      text from a checkpoint: ``python -m phase08.sample --ckpt OUT``
- ``phase08.plot``        loss curves from ``OUT/metrics.jsonl``: ``python -m phase08.plot OUT``
- ``phase08.bench``       ms/iter, tokens/s, MFU: ``python -m phase08.bench --preset P --device D``

Start with phase-08-training-gpt/notes/training-loop.md.
"""
