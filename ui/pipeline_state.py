"""Cached work behind the end-to-end page: sentence-transformers' own encode(), the independent check of the rebuilt embedding."""

from __future__ import annotations

import numpy as np
import streamlit as st


@st.cache_resource(max_entries=2, show_spinner="Loading sentence-transformers for the independent check…")
def sentence_transformer(source_dir: str, device: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(source_dir, device=device)


@st.cache_data(max_entries=32, show_spinner=False)
def reference_encode(source_dir: str, device: str, text: str) -> np.ndarray:
    return sentence_transformer(source_dir, device).encode(text, normalize_embeddings=False)
