"""Phase 06: every NumPy piece of phases 01-05 rebuilt in PyTorch, held equal by tests.

The twins (``torch.nn.Module``s with the NumPy side's parameter names):

- ``phase06.layers``, ``phase06.losses``        phase 01's layers and losses (and phase 05's label smoothing)
- ``phase06.rnn``, ``phase06.seq2seq``          phase 02's RNN/LSTM/GRU, CharRNN, Seq2Seq, phase 04's attention seq2seq
- ``phase06.embedding``                         phase 03's Embedding and word2vec's SkipGram
- ``phase06.attention``, ``phase06.alignment``  phase 04's scaled dot-product and multi-head attention, Bahdanau/Luong
- ``phase06.transformer``, ``phase06.lm``       phase 05's pieces, the 2017 Transformer, the decoder-only LM

The tools:

- ``phase06.device``    ``pick_device("auto")``: cuda, then mps, then cpu, used by every later phase
- ``phase06.parity``    the comparison helper of the parity suite: worst element, by name
- ``phase06.convert``   NumPy state dict <-> twin
- ``phase06.pairs``     run a NumPy layer and its twin, collect outputs and gradients by name
- ``phase06.cases``     the catalogue of pairs (``TWINS``, ``CATALOGUE``) the suite and the figure use
- ``phase06.graph``     print autograd's ``grad_fn`` graph
- ``phase06.functions`` custom ``torch.autograd.Function``s with the hand-derived backward

See phase-06-pytorch-transition/blog/same-numbers-new-tools.md.
"""
