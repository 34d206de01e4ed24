"""Phase 07: GPT-2 in PyTorch, from a CPU toy to the 124M model and beyond.

- ``phase07.gpt``       ``GPTConfig`` (presets ``tiny`` ... ``gpt2-xl``), ``GPT``, ``KVCache``
- ``phase07.hf``        Hugging Face ``transformers`` weights in and out, ``from_pretrained``
- ``phase07.generate``  greedy, temperature, top-k, top-p, stop token, streaming, KV cache
- ``phase07.inspect``   parameters per component, FLOPs per token, training memory
                        (``python -m phase07.inspect --preset gpt2``)
- ``phase07.figures``   the blog's figures

See phase-07-gpt-architecture/README.md for where to start.
"""
