"""Numbers the pages show, computed from traces and vectors (attention, FFN, positions, similarity, training)."""
