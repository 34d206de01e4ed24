"""Phase 01: neural networks in NumPy, every backward pass by hand.

Start with ``phase01.module`` (the layer protocol every later NumPy phase follows), then:

- ``phase01.layers``: Linear, ReLU, Tanh, Sigmoid, GELU, Dropout, Sequential;
- ``phase01.losses``: SoftmaxCrossEntropy (with ignore_index), MSELoss;
- ``phase01.init``: Xavier, He, normal(0.02) initialisers;
- ``phase01.optim`` and ``phase01.schedules``: SGD, Adam, AdamW, clipping, LR schedules;
- ``phase01.autograd``: ``Value``, a scalar autograd engine;
- ``phase01.perceptron``, ``phase01.toy``, ``phase01.train_mlp`` (``python -m phase01.train_mlp``).

See phase-01-neural-networks/blog/backprop-by-hand-then-by-graph.md.
"""
