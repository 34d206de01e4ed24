"""Phase 01: neural networks in NumPy, every backward pass by hand.

Start with ``phase01.module`` (the layer protocol every later NumPy phase follows).
"""
