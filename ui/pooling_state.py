"""Cached work behind the pooling page: embeddings of sentence sets and STS evaluations.

Keyed by the model id, device and content (never by session), bounded, and holding only
plain numpy results, so sessions share work without sharing state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core.text.budget import CorpusBudget, text_budgets
from core.text.idf import idf_weights
from core.embed.sts import StsResult, evaluate_sts, read_sts

from .progress_cache import ProgressCache, budgeted, digest
from .state import cached_model

ASSETS = Path(__file__).resolve().parent.parent / "assets"
STS_FILES = {
    "STS-B dev (1,500 pairs)": ASSETS / "stsb" / "stsb-en-dev.csv",
    "STS-B test (1,379 pairs)": ASSETS / "stsb" / "stsb-en-test.csv",
}
EXAMPLE_SETS = {
    "The article's example": ASSETS / "examples" / "similarity_article.txt",
    "Paraphrases, two senses of 'bank', a negation": ASSETS / "examples" / "similarity_paraphrases.txt",
}
MAX_SENTENCES = 50


def read_lines(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


@budgeted("STS sentences", max_entries=8)
def sts_sentences(path: str) -> list[str]:
    return read_sts(path).unique_sentences()


@budgeted("IDF weights", max_entries=16)
def idf_for(model_id: str, device: str, corpus: tuple[str, ...]) -> np.ndarray:
    return idf_weights(cached_model(model_id, device).tokenizer, list(corpus))


@budgeted("token budgets", max_entries=32)
def sentence_budgets(model_id: str, device: str, sentences: tuple[str, ...]) -> CorpusBudget:
    """The token budget of each sentence as ``embed_set`` feeds it to the model (default prompt included)."""
    model = cached_model(model_id, device)
    return text_budgets(model.tokenizer, sentences, model.info.max_seq_length, prompt=model.pipeline.resolve_prompt())


@budgeted("sentence sets", max_entries=32)
def embed_set(model_id: str, device: str, sentences: tuple[str, ...], poolings: tuple[str, ...], idf: np.ndarray | None):
    from core import embed_texts

    return embed_texts(cached_model(model_id, device), list(sentences), pooling=list(poolings), normalize=True, idf=idf)


_STS = ProgressCache(max_entries=8, name="STS results", long_work="STS evaluation")


def sts_result(model_id: str, device: str, content: bytes, n_pairs: int, poolings: tuple[str, ...], progress=None) -> StsResult:
    def compute() -> StsResult:
        pairs = read_sts(content)
        if n_pairs < len(pairs):
            from core.embed.sts import StsPairs

            pairs = StsPairs(pairs.sentence1[:n_pairs], pairs.sentence2[:n_pairs], pairs.scores[:n_pairs])
        return evaluate_sts(cached_model(model_id, device), pairs, list(poolings), progress=progress)

    return _STS.get_or_compute((model_id, device, digest([content]), n_pairs, poolings), compute)
