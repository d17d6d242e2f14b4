"""Cached work and session inputs behind the retrieval debugger page.

The corpus is embedded once per (model id, device, digest of the passages, chunking, document
prompt) in a bounded, process-wide ``ProgressCache`` (with a progress bar on the page); the
query-side work (its encoding, the pair explanations, the what-ifs, the score context, a
training run) is cached the same way, keyed by plain values, so a rerun never repeats it.
Session inputs (query, corpus, prompts, chunking) keep a plain copy, so a page switch that drops
a widget's value loses nothing typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.retrieval.corpus import Chunking, RetrievalExample, docstring_example, stsb_example
from core.retrieval.explain import PairExplanation, explain_pair
from core.retrieval.scores import ScoreContext, score_context
from core.retrieval.search import (
    CorpusIndex, QueryEncoding, Ranking, build_index, encode_queries, encode_query, index_from_vectors, recall_at_k,
    retrieval_prompts,
)
from core.retrieval.teach import TeachResult, teach_pair
from core.retrieval.whatif import WhatIfReport, passage_what_ifs, query_what_ifs

from . import state
from .progress_cache import ProgressCache, digest
from .state import cached_model

STSB_DEV = Path(__file__).resolve().parent.parent / "assets" / "stsb" / "stsb-en-dev.csv"
EXAMPLES = {"stsb": "STS-B dev pairs scored ≥ 4", "docstrings": "Python's own docstrings"}
CLI_EXAMPLE_NAMES = {"stsb": "stsb-dev", "docstrings": "python-docstrings"}  # python -m core search --example …
CORPUS_LABELS = {**EXAMPLES, "pasted": "Pasted passages, one per line", "upload": "An uploaded file"}
CORPUS_CHOICES = tuple(CORPUS_LABELS)
ASK_ABOVE = 500          # passages the page embeds without asking first
PASTED_START = 8          # the pasted box starts with this many of the STS-B example's passages (real text)
TEXT_COLUMN_NAMES = ("text", "passage", "passages", "document", "content", "body", "sentence")
KEPT_KEYS = ("rt_query", "rt_corpus", "rt_pasted", "rt_column", "rt_use_prompts", "rt_query_prompt", "rt_doc_prompt",
             "rt_chunking", "rt_chunk_tokens", "rt_overlap", "rt_k", "rt_steps")


# ---------------------------------------------------------------------------------------------
# Session inputs
# ---------------------------------------------------------------------------------------------

@st.cache_data(max_entries=2, show_spinner=False)
def example(name: str) -> RetrievalExample:
    return stsb_example(STSB_DEV) if name == "stsb" else docstring_example()


def restore_inputs() -> None:
    """Streamlit drops a widget's value when a run does not draw it (another page, another corpus
    choice): put back the plain copy kept by ``keep_inputs``. A value it kept is set again too: the
    browser forgets a widget it stopped drawing and, drawing it again, would show its default while
    the server holds the visitor's value."""
    for key in KEPT_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
        elif f"_kept_{key}" in st.session_state:
            st.session_state[key] = st.session_state[f"_kept_{key}"]


def keep_inputs() -> None:
    for key in KEPT_KEYS:
        if key in st.session_state:
            st.session_state[f"_kept_{key}"] = st.session_state[key]


def init_inputs(model) -> None:
    """Defaults, and link values made valid, before any widget is drawn."""
    ss = st.session_state
    if ss.get("rt_corpus") not in CORPUS_CHOICES:
        ss["rt_corpus"] = "stsb"
    if not isinstance(ss.get("rt_query"), str):
        first = example(ss["rt_corpus"] if ss["rt_corpus"] in EXAMPLES else "stsb")
        ss["rt_query"] = first.queries[0]
        ss.setdefault("rt_expected", first.answers[0])
    value = ss.get("rt_expected", 0)
    ss["rt_expected"] = int(value) if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
    if not isinstance(ss.get("rt_pasted"), str):
        ss["rt_pasted"] = "\n".join(example("stsb").passages[:PASTED_START])
    if ss.get("_rt_prompts_for") != model.info.model_id:  # a new model brings its own prompts
        ss["rt_query_prompt"], ss["rt_doc_prompt"] = retrieval_prompts(model)
        ss["_rt_prompts_for"] = model.info.model_id
    ss.setdefault("rt_use_prompts", True)
    if ss.get("rt_chunking") not in ("truncate", "chunks"):
        ss["rt_chunking"] = "truncate"
    window = int(model.info.max_seq_length)
    ss["rt_chunk_tokens"] = min(max(int(ss.get("rt_chunk_tokens", min(128, window))), 16), window)
    ss["rt_overlap"] = min(max(int(ss.get("rt_overlap", 16)), 0), ss["rt_chunk_tokens"] // 2)
    ss.setdefault("rt_k", 10)
    ss.setdefault("rt_steps", 8)


def corpus_changed() -> None:
    """A bundled example brings its first query and that query's answer."""
    ss = st.session_state
    choice = ss.get("rt_corpus")
    if choice in EXAMPLES:
        chosen = example(choice)
        ss["rt_query"], ss["rt_expected"] = chosen.queries[0], chosen.answers[0]
        ss[f"rt_example_query_{choice}"] = 0
    else:
        ss["rt_expected"] = 0


def example_query_chosen(name: str, picker: str) -> None:
    chosen = example(name)
    position = int(st.session_state[picker])
    st.session_state["rt_query"] = chosen.queries[position]
    st.session_state["rt_expected"] = chosen.answers[position]


def sync_choice(widget_key: str, value: int, size: int) -> int:
    """Point a picker (whose options may have changed) at ``value``, kept in range; call before drawing it."""
    value = min(max(int(value), 0), max(size - 1, 0))
    st.session_state[widget_key] = value
    return value


def expected_chosen(widget_key: str) -> None:
    st.session_state["rt_expected"] = int(st.session_state[widget_key])


def expected_number_chosen() -> None:
    st.session_state["rt_expected"] = int(st.session_state["rt_expected_number"]) - 1


def default_text_column(columns: list[str]) -> str:
    lowered = {str(c).lower(): c for c in columns}
    return next((lowered[name] for name in TEXT_COLUMN_NAMES if name in lowered), columns[0])


def open_in_stages(text: str) -> None:
    # a callback runs before the script, so it may set the sidebar's text widget
    st.session_state[state.TEXT_KEY] = text
    st.session_state["rt_go_home"] = True


def held_out_queries(name: str, query: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The example's other queries and their answers (the current query left out)."""
    chosen = example(name)
    pairs = [(q, a) for q, a in zip(chosen.queries, chosen.answers) if q != query]
    return tuple(q for q, _ in pairs), tuple(a for _, a in pairs)


# ---------------------------------------------------------------------------------------------
# Cached work
# ---------------------------------------------------------------------------------------------

_INDEXES = ProgressCache(max_entries=6, size_of=lambda index: index.nbytes, name="corpora", long_work="corpus embedding")
_VECTOR_INDEXES = ProgressCache(max_entries=2, size_of=lambda pair: pair[0].nbytes, name="uploaded corpora",
                                 long_work="corpus index")
_QUERIES = ProgressCache(max_entries=64, name="queries")
_EXPLAIN = ProgressCache(max_entries=24, name="explanations")
_WHATIF = ProgressCache(max_entries=24, name="what-ifs")
_SCORES = ProgressCache(max_entries=24, name="score distributions")
_TEACH = ProgressCache(max_entries=8, name="retrieval fixes", long_work="training run")


def index_key(model_id: str, device: str, passages: tuple[str, ...], chunking: Chunking, document_prompt: str) -> tuple:
    return (model_id, device, digest(passages), chunking, document_prompt)


def has_index(key: tuple) -> bool:
    return key in _INDEXES


def corpus_index(key: tuple, passages: tuple[str, ...], progress=None) -> CorpusIndex:
    model_id, device, _, chunking, document_prompt = key
    return _INDEXES.get_or_compute(key, lambda: build_index(
        cached_model(model_id, device), list(passages), chunking=chunking, document_prompt=document_prompt,
        progress=progress))


def vectors_tag(vectors) -> tuple[str, str]:
    """What stands for the chunking in the key of an index of uploaded vectors: their digest."""
    return ("precomputed", digest([vectors.tobytes()]))


def vector_index(key: tuple, passages: tuple[str, ...], vectors) -> tuple[CorpusIndex, float]:
    """An index of uploaded passages with their own vectors (checked against the model on a few)."""
    model_id, device, _, _, document_prompt = key
    return _VECTOR_INDEXES.get_or_compute(key, lambda: index_from_vectors(cached_model(model_id, device), list(passages), vectors,
                                                                   document_prompt=document_prompt))


_RECALL = ProgressCache(max_entries=8, name="recall evaluations", long_work="recall evaluation")


def example_recall(key: tuple, index: CorpusIndex, example_name: str, query_prompt: str) -> dict[int, float]:
    """recall@1 and recall@10 of a bundled example's queries against their known answers, with the
    page's prompts and chunking (the corpus index is the page's own)."""
    model_id, device = key[0], key[1]
    bundled = example(example_name)

    def compute():
        queries = encode_queries(cached_model(model_id, device), list(bundled.queries), prompt=query_prompt)
        return recall_at_k(index, queries, bundled.answers, ks=(1, 10))

    return _RECALL.get_or_compute((key, example_name, query_prompt), compute)


def query_encoding(model_id: str, device: str, query: str, prompt: str) -> QueryEncoding:
    return _QUERIES.get_or_compute((model_id, device, query, prompt),
                                   lambda: encode_query(cached_model(model_id, device), query, prompt=prompt))


def explanation(model_id: str, device: str, query: QueryEncoding, passage_text: str, document_prompt: str,
                passage: int) -> PairExplanation:
    key = (model_id, device, query.text, query.prompt, digest([passage_text]), document_prompt, passage)
    return _EXPLAIN.get_or_compute(key, lambda: explain_pair(cached_model(model_id, device), query, passage_text,
                                                             document_prompt, passage=passage))


def query_whatifs(key: tuple, index: CorpusIndex, query: QueryEncoding, expected: int) -> WhatIfReport:
    model_id, device = key[:2]
    return _WHATIF.get_or_compute((key, "query", query.text, query.prompt, expected),
                                  lambda: query_what_ifs(cached_model(model_id, device), index, query, expected))


def passage_whatifs(key: tuple, index: CorpusIndex, query: QueryEncoding, passage: int) -> WhatIfReport:
    model_id, device = key[:2]
    return _WHATIF.get_or_compute((key, "passage", query.text, query.prompt, passage),
                                  lambda: passage_what_ifs(cached_model(model_id, device), index, query, passage))


def scores_of(key: tuple, index: CorpusIndex, query: QueryEncoding) -> ScoreContext:
    return _SCORES.get_or_compute((key, query.text, query.prompt), lambda: score_context(index, query))


def teach_key(key: tuple, query: str, expected: int, steps: int, held_out: tuple) -> tuple:
    return (key, query, expected, steps, digest(held_out[0]))


def has_taught(request: tuple) -> bool:
    return request in _TEACH


def taught(request: tuple, index: CorpusIndex, held_out: tuple, progress=None) -> TeachResult:
    key, query, expected, steps, _ = request
    model_id, device = key[:2]
    return _TEACH.get_or_compute(request, lambda: teach_pair(
        cached_model(model_id, device), index, query, expected, steps=steps,
        held_out=held_out if held_out[0] else None, progress=progress))


# ---------------------------------------------------------------------------------------------
# The compared model ("Compare with…")
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ComparedRanking:
    """The compared model's side of the page: its corpus index, its query encoding and its ranking."""
    model_id: str           # the session's COMPARE_KEY (a folder by its absolute path)
    key: tuple              # its index key (``index_key``), for the caches keyed by it
    index: CorpusIndex
    encoding: QueryEncoding
    ranking: Ranking


def compared_prompts(model, use_prompts: bool) -> tuple[str, str]:
    """(query prompt, document prompt) of the compared model: its own, as encode_query / encode_document
    pick them, when the page's prompts are on; none when they are off (the page's boxes edit this model's)."""
    return retrieval_prompts(model) if use_prompts else ("", "")
