"""Phase 02: sequence models in NumPy, backpropagation through time by hand.

- ``phase02.rnn``            RNN, LSTM, GRU layers and cells, equal to torch.nn's
- ``phase02.gradient_flow``  vanishing and exploding gradients, measured; clipping
- ``phase02.char_rnn``       a character LSTM on Tiny Shakespeare (``python -m phase02.char_rnn``)
- ``phase02.seq2seq``        encoder-decoder LSTM on digit reversal (``python -m phase02.seq2seq``)
- ``phase02.figures``        the blog's figures
"""
