"""The sentence-transformers pipeline a model declares: prompts, pooling, Dense, Normalize, similarity."""
