"""Phase 03: how text becomes numbers.

- ``phase03.bpe``             byte-pair encoding: reference and fast trainers, encoding
- ``phase03.tokenizer``       the tokenizer family: characters, words, byte-level BPE, regex BPE
- ``phase03.gpt2_tokenizer``  GPT-2's tokenizer from OpenAI's two files, equal to tiktoken's
- ``phase03.embedding``       the embedding layer (a lookup whose backward is a scatter-add)
- ``phase03.word2vec``        skip-gram with negative sampling on Tiny Shakespeare
- ``phase03.figures``         the blog's figures
"""
