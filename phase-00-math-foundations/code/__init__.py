"""Phase 00: the math every later phase stands on.

- ``phase00.linalg``      matrix multiply from loops to BLAS, broadcasting, einsum
- ``phase00.calculus``    numerical derivatives, the chain rule, Jacobian-vector products
- ``phase00.gradcheck``   the finite-difference judge of every hand-written backward pass
- ``phase00.probability`` stable softmax / log-softmax / logsumexp, cross-entropy, sampling
- ``phase00.data``        the verified data files (Tiny Shakespeare, GPT-2's BPE files)
"""
