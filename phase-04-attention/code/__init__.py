"""Phase 04: attention, from the alignment of a translation model to the transformer's heads.

- ``phase04.attention``          scaled dot-product attention, masks, multi-head attention
- ``phase04.alignment``          the Bahdanau (additive) and Luong (dot, general, concat) scores
- ``phase04.seq2seq_attention``  those scores inside phase 02's encoder-decoder
- ``phase04.compare``            the measurement: accuracy by length, with and without attention
- ``phase04.figures``            the blog's figures
"""
