"""Many texts to vectors: batched embedding, the STS benchmark, 2-D/3-D projections."""
