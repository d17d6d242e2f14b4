"""Retrieval on the user's own corpus: rank it for a query as the model would, say why each passage
ranked where it did, what would change it, whether a score is high, and train a fix."""
