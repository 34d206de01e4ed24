"""Phase 06: every NumPy piece of phases 01-05 rebuilt in PyTorch, held equal by tests.

- ``phase06.device``  ``pick_device("auto")``: cuda, then mps, then cpu, used by every later phase
- ``phase06.parity``  the comparison helper of the parity suite: worst element, by name
"""
