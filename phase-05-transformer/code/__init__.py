"""Phase 05: the Transformer in NumPy, every backward pass by hand.

- ``phase05.layernorm``     LayerNorm and its full backward
- ``phase05.positional``    sinusoidal and learned positional encodings
- ``phase05.feedforward``   the position-wise feed-forward network
- ``phase05.blocks``        residual sublayers (post-norm and pre-norm), encoder and decoder
                            layers, the (optionally tied) output projection
- ``phase05.losses``        label-smoothed cross-entropy
- ``phase05.schedules``     the paper's warm-up then inverse-square-root learning rate
- ``phase05.transformer``   the 2017 encoder-decoder
- ``phase05.decoding``      greedy and beam search
- ``phase05.lm``            a decoder-only, GPT-2 shaped language model
- ``phase05.counts``        parameter and FLOP counts
- ``phase05.train_seq2seq`` / ``phase05.train_lm``   the two training programs
- ``phase05.figures``       the blog post's figures
"""
