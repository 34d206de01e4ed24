"""Phase 09: what changed between GPT-2 and today's open models.

- ``phase09.rope``     rotary position embedding, NumPy and torch, half-split and interleaved
- ``phase09.layers``   RMSNorm, SwiGLU, grouped-query attention, KV-cache sizes
- ``phase09.llama``    ``Llama`` (``from_hf``), ``KVCache``, ``generate``
- ``phase09.mistral``  sliding-window attention, ``RollingKVCache``, ``Mistral``
- ``phase09.flash``    FlashAttention: tiled online softmax, NumPy and torch, forward and backward
- ``phase09.lora``     low-rank adapters on the phase-07 GPT (``python -m phase09.lora``)
- ``phase09.rlhf``     Bradley-Terry reward model and PPO (``python -m phase09.rlhf``)
- ``phase09.dpo``      direct preference optimisation (``python -m phase09.dpo``)
- ``phase09.figures``  the blog's figures

See phase-09-modern-developments/README.md for where to start.
"""
