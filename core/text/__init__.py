"""Text in: tokenization, the vocabulary, reading uploaded files, IDF weights."""
