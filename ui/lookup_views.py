"""Caches of the embedding-lookup page: whole-table work is done once per model, not per rerun."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.text.vocabulary import nearest_rows, row_norms

from . import state


@st.cache_resource(max_entries=3, show_spinner=False)
def table_and_norms(model_id: str, device: str) -> tuple[np.ndarray, np.ndarray]:
    """The model's embedding table [V, d] (a read-only view of the live weights on a CPU) and its row norms."""
    table = state.cached_model(model_id, device).weights("word_embeddings")
    return table, row_norms(table)


@st.cache_data(max_entries=256, show_spinner=False)
def neighbours(model_id: str, device: str, token_id: int, k: int = 10) -> list[tuple[int, str, float]]:
    """(id, token, cosine) of the ``k`` rows nearest to row ``token_id`` over the whole table, best first."""
    table, norms = table_and_norms(model_id, device)
    tokenizer = state.cached_model(model_id, device).tokenizer
    found = nearest_rows(table, token_id, k, norms=norms)
    tokens = tokenizer.convert_ids_to_tokens([n.id for n in found])
    return [(n.id, str(t) if t is not None else "(no token)", n.cosine) for n, t in zip(found, tokens)]
