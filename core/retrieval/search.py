"""Rank a corpus for a query as the model's own pipeline would: its prompts, its pooling, its similarity.

``build_index`` embeds every unit of a corpus once (every pooling from the same forward passes, so
a pooling what-if costs no model run); ``encode_query`` embeds a query the same way; ``rank`` scores
the query against every unit with the model's ``similarity_fn_name`` and ranks passages by their
best unit. Vectors can be cut to fewer dimensions (Matryoshka-style, then renormalised) and
quantised (int8, binary) before scoring, on both sides alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping, Sequence

import numpy as np

from ..embed.embedding import embed_texts
from ..errors import InputTextError
from ..models.explorer_model import ExplorerModel
from ..pipeline.pooling import POOLING_MODES
from ..pipeline.similarity import paired_similarity, similarity_matrix
from ..text.budget import CorpusBudget, text_budgets
from .corpus import Chunking, Corpus, Unit, make_corpus

QUANTIZATIONS = ("float32", "int8", "binary")
QUERY_PROMPT_NAMES = ("query",)                          # as SentenceTransformer.encode_query looks them up
DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")  # as SentenceTransformer.encode_document does


def retrieval_prompts(explorer: ExplorerModel) -> tuple[str, str]:
    """(query prompt, document prompt) the model's config defines, as encode_query / encode_document
    choose them; "" where it defines none."""
    prompts = explorer.pipeline.prompts
    query = next((prompts[n] for n in QUERY_PROMPT_NAMES if n in prompts), None)
    document = next((prompts[n] for n in DOCUMENT_PROMPT_NAMES if n in prompts), None)
    default = explorer.pipeline.resolve_prompt()
    return (default if query is None else query), (default if document is None else document)


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=np.float32)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class CorpusIndex:
    corpus: Corpus
    document_prompt: str
    vectors: Mapping[str, np.ndarray]   # pooling → [units, d'] through the model's pipeline (read-only)
    native_pooling: str
    similarity_fn_name: str
    budget: CorpusBudget                # token counts of the passages (with the document prompt) against the window

    @property
    def n_passages(self) -> int:
        return len(self.corpus.passages)

    @property
    def nbytes(self) -> int:
        return int(sum(v.nbytes for v in self.vectors.values()))


def build_index(explorer: ExplorerModel, passages: Sequence[str], *, chunking: Chunking = Chunking(),
                document_prompt: str | None = None, poolings: Sequence[str] | None = None, batch_size: int = 32,
                progress: Callable[[int, int], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> CorpusIndex:
    """Embed a corpus: every unit under every pooling in ``poolings`` (default: the model's own and
    sentence-transformers' other modes) from one forward pass per batch."""
    prompt = retrieval_prompts(explorer)[1] if document_prompt is None else document_prompt
    prompt_tokens = max(explorer.prompt_length(prompt) - 1, 0) if prompt else 0  # its own tokens, [CLS] not counted
    corpus = make_corpus(explorer.tokenizer, passages, explorer.info.max_seq_length, chunking, prompt_tokens=prompt_tokens)
    names = list(dict.fromkeys([explorer.pipeline.pooling_mode, *(POOLING_MODES if poolings is None else poolings)]))
    vectors = embed_texts(explorer, [unit.text for unit in corpus.units], pooling=names, prompt=prompt,
                          batch_size=batch_size, progress=progress, should_stop=should_stop)
    budget = text_budgets(explorer.tokenizer, corpus.passages, explorer.info.max_seq_length, prompt=prompt)
    return CorpusIndex(corpus, prompt, MappingProxyType({n: _readonly(v) for n, v in vectors.items()}),
                       explorer.pipeline.pooling_mode, explorer.info.similarity_fn_name, budget)


MAX_PRECOMPUTED = 200_000   # passages with their own vectors (from `python -m core embed`) the page ranks


def index_from_vectors(explorer: ExplorerModel, passages: Sequence[str], vectors: np.ndarray, *,
                       document_prompt: str | None = None, sample: int = 3) -> tuple[CorpusIndex, float]:
    """An index of passages whose vectors were computed elsewhere (``python -m core embed``): nothing is
    embedded but a few of them, to check the vectors are this model's. Returns the index and the
    smallest cosine between a given vector and the model's own for the same passage (1.0: the same).
    Only the pipeline's own pooling is available: the other poolings' what-ifs need the token states."""
    from ..text.datasets import DatasetError

    texts = [str(p) for p in passages]
    vectors = np.asarray(vectors, dtype=np.float32)
    if len(texts) < 2:
        raise InputTextError("The corpus has fewer than two passages: ranking needs at least two to compare.")
    if len(texts) > MAX_PRECOMPUTED:
        raise InputTextError(f"{len(texts):,} passages with vectors; the page ranks at most {MAX_PRECOMPUTED:,}.")
    if vectors.shape != (len(texts), vectors.shape[-1]) or vectors.ndim != 2:
        raise DatasetError(f"{vectors.shape[0]:,} vectors for {len(texts):,} passages: the rows must match one to one.")
    size = explorer.info.embedding_dimension or explorer.info.d_model
    if vectors.shape[1] != size:
        raise DatasetError(f"The vectors have {vectors.shape[1]} dimensions; {explorer.info.model_id} makes {size}: they "
                           "come from another model. Embed the passages with this one (`python -m core embed --model …`).")
    prompt = retrieval_prompts(explorer)[1] if document_prompt is None else document_prompt
    checked = texts[:sample]
    own = embed_texts(explorer, checked, prompt=prompt)
    agreement = float(np.min(paired_similarity(own, vectors[: len(checked)], "cosine")))
    corpus = Corpus(tuple(texts), tuple(Unit(i, 0, t, 0, len(t)) for i, t in enumerate(texts)), Chunking(), ())
    budget = text_budgets(explorer.tokenizer, texts, explorer.info.max_seq_length, prompt=prompt)
    native = explorer.pipeline.pooling_mode
    index = CorpusIndex(corpus, prompt, MappingProxyType({native: _readonly(vectors)}), native,
                        explorer.info.similarity_fn_name, budget)
    return index, agreement


@dataclass(frozen=True)
class QueryEncoding:
    text: str
    prompt: str
    vectors: Mapping[str, np.ndarray]   # pooling → [d']


def encode_query(explorer: ExplorerModel, query: str, *, prompt: str | None = None,
                 poolings: Sequence[str] | None = None) -> QueryEncoding:
    if not isinstance(query, str) or not query.strip():
        raise InputTextError("Type a query to rank the corpus against.")
    prompt = retrieval_prompts(explorer)[0] if prompt is None else prompt
    names = list(dict.fromkeys([explorer.pipeline.pooling_mode, *(POOLING_MODES if poolings is None else poolings)]))
    vectors = embed_texts(explorer, [query], pooling=names, prompt=prompt)
    return QueryEncoding(query, prompt, MappingProxyType({n: _readonly(v[0]) for n, v in vectors.items()}))


# ---------------------------------------------------------------------------------------------
# Cutting dimensions and quantising (both sides alike)
# ---------------------------------------------------------------------------------------------

def truncate_dimensions(vectors: np.ndarray, dims: int | None) -> np.ndarray:
    """The first ``dims`` dimensions, renormalised to unit length (Matryoshka-style); all when None."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if dims is None or dims >= vectors.shape[-1]:
        return vectors
    if dims < 1:
        raise InputTextError("Keep at least one dimension.")
    cut = vectors[..., :dims]
    return cut / np.maximum(np.linalg.norm(cut, axis=-1, keepdims=True), 1e-12)


def int8_ranges(corpus_vectors: np.ndarray) -> np.ndarray:
    """[2, d] per-dimension (min, max) of the corpus: the calibration sentence-transformers'
    ``quantize_embeddings`` uses when it is given the corpus itself."""
    return np.stack([corpus_vectors.min(axis=0), corpus_vectors.max(axis=0)]).astype(np.float32)


def quantize_int8(vectors: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """Each dimension's range cut into 255 equal steps, values mapped to -128 … 127 as
    sentence-transformers' quantize_embeddings does (a query's values outside the corpus's range are
    clipped to it)."""
    starts = ranges[0]
    steps = (ranges[1] - ranges[0]) / 255
    steps = np.where(steps == 0, 1, steps)
    return (np.clip(np.floor((np.asarray(vectors, dtype=np.float32) - starts) / steps), 0, 255) - 128).astype(np.int8)


def quantize_binary(vectors: np.ndarray) -> np.ndarray:
    """1 bit per dimension (value > 0), packed 8 to a byte as sentence-transformers' 'ubinary'."""
    return np.packbits(np.asarray(vectors) > 0, axis=-1)


def binary_similarity(query_bits: np.ndarray, corpus_bits: np.ndarray) -> np.ndarray:
    """−(Hamming distance) between packed bit vectors: larger is more similar."""
    differing = np.bitwise_xor(np.atleast_2d(query_bits)[:, None, :], corpus_bits[None, :, :])
    return -np.unpackbits(differing, axis=-1).sum(axis=-1).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Ranking
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ranking:
    scores: np.ndarray       # [passages] each passage's score (its best unit's)
    order: np.ndarray        # [passages] passage indices, best first (ties: lower index first)
    best_unit: np.ndarray    # [passages] index of the unit that gave the passage its score
    similarity: str          # how the scores were computed, in words

    def rank_of(self, passage: int) -> int:
        """1-based rank of ``passage``."""
        return int(np.flatnonzero(self.order == passage)[0]) + 1

    def top(self, k: int) -> list[tuple[int, float]]:
        return [(int(p), float(self.scores[p])) for p in self.order[:k]]


def unit_scores(query_vector: np.ndarray, unit_vectors: np.ndarray, similarity: str, *, dims: int | None = None,
                quantization: str = "float32", ranges: np.ndarray | None = None) -> np.ndarray:
    """[units] the query's score against every unit."""
    if quantization not in QUANTIZATIONS:
        raise InputTextError(f"Unknown quantisation '{quantization}': choose {', '.join(QUANTIZATIONS)}.")
    query = truncate_dimensions(query_vector, dims) if dims else np.asarray(query_vector, dtype=np.float32)
    units = truncate_dimensions(unit_vectors, dims) if dims else np.asarray(unit_vectors, dtype=np.float32)
    if quantization == "binary":
        return binary_similarity(quantize_binary(query), quantize_binary(units))[0]
    if quantization == "int8":
        ranges = int8_ranges(units) if ranges is None else ranges
        query = quantize_int8(query[None], ranges).astype(np.float32)[0]
        units = quantize_int8(units, ranges).astype(np.float32)
    return similarity_matrix(query[None], units, similarity)[0]


def rank_units(scores: np.ndarray, corpus: Corpus, similarity: str) -> Ranking:
    n = len(corpus.passages)
    passage_of = np.fromiter((unit.passage for unit in corpus.units), dtype=np.int64, count=len(corpus.units))
    best = np.full(n, -np.inf, dtype=np.float64)
    best_unit = np.zeros(n, dtype=np.int64)
    order_units = np.lexsort((np.arange(len(scores)), -scores))  # best unit first
    seen = np.zeros(n, dtype=bool)
    for unit in order_units:
        passage = passage_of[unit]
        if not seen[passage]:
            seen[passage] = True
            best[passage], best_unit[passage] = scores[unit], unit
    order = np.lexsort((np.arange(n), -best))
    return Ranking(best.astype(np.float32), order, best_unit, similarity)


def rank(index: CorpusIndex, query: QueryEncoding, *, pooling: str | None = None, dims: int | None = None,
         quantization: str = "float32") -> Ranking:
    """The corpus ranked for ``query`` with the model's similarity (binary quantisation ranks by
    Hamming distance)."""
    pooling = pooling or index.native_pooling
    scores = unit_scores(query.vectors[pooling], index.vectors[pooling], index.similarity_fn_name, dims=dims,
                         quantization=quantization)
    label = "−Hamming distance of the sign bits" if quantization == "binary" else index.similarity_fn_name
    return rank_units(scores.astype(np.float32), index.corpus, label)


def recall_at_k(index: CorpusIndex, queries: Sequence[QueryEncoding], answers: Sequence[int],
                ks: Sequence[int] = (1, 10)) -> dict[int, float]:
    """Share of the queries whose answer passage ranks within the top k, for each k."""
    ranks = np.asarray([rank(index, query).rank_of(answer) for query, answer in zip(queries, answers)])
    return {int(k): float((ranks <= k).mean()) for k in ks}


def encode_queries(explorer: ExplorerModel, queries: Sequence[str], *, prompt: str | None = None,
                   batch_size: int = 32) -> list[QueryEncoding]:
    """Many queries at once (one batch pass), with the model's own pooling only."""
    prompt = retrieval_prompts(explorer)[0] if prompt is None else prompt
    native = explorer.pipeline.pooling_mode
    vectors = embed_texts(explorer, list(queries), prompt=prompt, batch_size=batch_size)
    return [QueryEncoding(text, prompt, MappingProxyType({native: _readonly(vector)})) for text, vector in zip(queries, vectors)]
