"""The training page's caches, kept in a module (a page file runs in a fresh module every run, so a
cache defined there would start empty each time)."""

from __future__ import annotations

from core.analysis.contrastive import untrained_vectors

from . import state
from .progress_cache import ProgressCache, budgeted

TRAINING_RUNS = ProgressCache(max_entries=6, name="training runs", long_work="training run")


@budgeted("pair vectors", max_entries=16)
def batch_vectors(model_id: str, device: str, which: str, anchors: tuple[str, ...], positives: tuple[str, ...]):
    """Mean-pooled, normalised vectors of the pairs: under the loaded model, or (``which`` = "untrained")
    under its untrained twin (seeded: the same weights every time), built for these and dropped."""
    from core import embed_texts

    model = state.cached_model(model_id, device)
    if which != "trained":
        return untrained_vectors(model, anchors, positives, seed=0)
    return (embed_texts(model, list(anchors), pooling="mean", normalize=True),
            embed_texts(model, list(positives), pooling="mean", normalize=True))
