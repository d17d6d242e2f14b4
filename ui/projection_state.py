"""Cached work behind the projections page, keyed by content and model, bounded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core import embed_texts
from core.analysis.model_comparison import NeighbourOverlap, neighbour_overlap
from core.embed.projection import ProjectionParams, project
from core.embed.projection_at_scale import ScaledProjection, project_at_scale
from core.text.datasets import MAX_MAP_ROWS, read_table
from core.text.budget import CorpusBudget, text_budgets

from .progress_cache import ProgressCache, _key_part, budgeted, digest
from .state import cached_model

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "examples"
EXAMPLE_SETS = {
    "Five topics (60 sentences, labelled)": ASSETS / "topics.csv",
    "Near-synonyms (4 groups of 3)": ASSETS / "near_synonyms.csv",
}
MAX_TYPED = 2_000
MAX_EMBED = 20_000   # sentences the page embeds itself; more via `python -m core embed`


@st.cache_data(max_entries=4, show_spinner=False)
def example_frame(path: str) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


_EMBEDDINGS = ProgressCache(max_entries=12, name="sentence sets", long_work="embedding of the sentence set")


def embeddings(model_id: str, device: str, texts: tuple[str, ...], layer: int | None, progress=None) -> np.ndarray:
    """Normalised sentence vectors; ``layer`` None = the model's own output, else mean pooling of that layer."""
    key = (model_id, device, digest(texts), layer)
    return _EMBEDDINGS.get_or_compute(key, lambda: embed_texts(
        cached_model(model_id, device), list(texts), pooling="mean" if layer is not None else None,
        normalize=True, layer=layer, batch_size=64, progress=progress))


_BUDGETS = ProgressCache(max_entries=16, name="token budgets")


def budgets(model_id: str, device: str, texts: tuple[str, ...]) -> CorpusBudget:
    """The token budget of each text as ``embeddings`` feeds it to the model (default prompt included)."""
    def compute() -> CorpusBudget:
        model = cached_model(model_id, device)
        return text_budgets(model.tokenizer, texts, model.info.max_seq_length, prompt=model.pipeline.resolve_prompt())

    return _BUDGETS.get_or_compute((model_id, device, digest(texts)), compute)


@budgeted("projections", max_entries=16, long_work="projection")
def projection(vectors: np.ndarray, params: ProjectionParams) -> np.ndarray:
    return project(vectors, params)


@budgeted("neighbour comparisons", max_entries=8, long_work="neighbour comparison")
def neighbour_comparison(vectors_a: np.ndarray, vectors_b: np.ndarray) -> NeighbourOverlap:
    """Each sentence's 10 nearest neighbours under both models (full vectors, cosine) and their Jaccard
    index; an N × N pass per model, so a large set waits its turn like any long job."""
    return neighbour_overlap(vectors_a, vectors_b)


_SCALED = ProgressCache(max_entries=4, name="projections of large sets", long_work="projection of a large set")


def scaled_projection(vectors: np.ndarray, params: ProjectionParams, progress=None) -> ScaledProjection:
    """More points than the method fits: a plain fit of a sample, the rest placed
    (``core.embed.projection_at_scale``); ``progress(step, done, total)`` after each batch."""
    key = (_key_part(vectors), params)
    return _SCALED.get_or_compute(key, lambda: project_at_scale(vectors, params, progress=progress))


_MAP_TABLES = ProgressCache(max_entries=2, name="uploaded maps")


def map_table(content: bytes, name: str) -> pd.DataFrame:
    """An uploaded table of precomputed 2-D points (up to MAX_MAP_ROWS rows), read once per upload."""
    return _MAP_TABLES.get_or_compute(("map", name, _key_part(np.frombuffer(content, dtype=np.uint8))),
                                      lambda: read_table(content, name, max_rows=MAX_MAP_ROWS))


_SERVER_FILES = ProgressCache(max_entries=2, name="embedding outputs read from the server")


def server_embedding(path: str):
    """An output of `python -m core embed` (a .parquet, or a folder of shards with its manifest, from either
    engine) read from the server's disk, checked, once per path and modification time."""
    from pathlib import Path as _Path

    from core.embed.embed_output import read_embedding_output

    target = _Path(path).expanduser()
    stamp = (str(target.resolve()), target.stat().st_mtime_ns if target.exists() else None)
    return _SERVER_FILES.get_or_compute(("server embedding", stamp), lambda: read_embedding_output(target))
