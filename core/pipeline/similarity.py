"""The similarity functions a sentence-transformers model can declare (``similarity_fn_name``).

Each takes [N, d] and [M, d] vectors and returns an [N, M] matrix where larger means more
similar, as ``SentenceTransformer.similarity`` does: cosine, dot product, and the negated
euclidean and manhattan distances.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

SIMILARITY_FUNCTIONS = ("cosine", "dot", "euclidean", "manhattan")
SIMILARITY_LABELS = MappingProxyType({
    "cosine": "cosine similarity",
    "dot": "dot product",
    "euclidean": "− euclidean distance",
    "manhattan": "− manhattan distance",
})


def check_similarity_name(name: str) -> str:
    if name not in SIMILARITY_FUNCTIONS:
        raise ValueError(f"Unknown similarity function '{name}'. Choose one of: {', '.join(SIMILARITY_FUNCTIONS)}.")
    return name


def _as_matrix(vectors) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float64)
    return array[None] if array.ndim == 1 else array


def similarity_matrix(vectors_a, vectors_b=None, name: str = "cosine") -> np.ndarray:
    """[N, M] similarity of every row of ``vectors_a`` with every row of ``vectors_b`` (default: a itself)."""
    check_similarity_name(name)
    a = _as_matrix(vectors_a)
    b = a if vectors_b is None else _as_matrix(vectors_b)
    if name == "cosine":
        a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
        b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
        return (a @ b.T).astype(np.float32)
    if name == "dot":
        return (a @ b.T).astype(np.float32)
    if name == "euclidean":
        squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
        return (-np.sqrt(np.maximum(squared, 0.0))).astype(np.float32)
    return (-np.abs(a[:, None, :] - b[None, :, :]).sum(-1)).astype(np.float32)


def similarity(vector_a, vector_b, name: str = "cosine") -> float:
    """One number: the similarity of two vectors under ``name``."""
    return float(similarity_matrix(vector_a, vector_b, name)[0, 0])


def paired_similarity(vectors_a, vectors_b, name: str = "cosine") -> np.ndarray:
    """[N] the similarity of row i of ``vectors_a`` with row i of ``vectors_b`` (the diagonal of
    ``similarity_matrix``, without the N × N matrix)."""
    check_similarity_name(name)
    a, b = _as_matrix(vectors_a), _as_matrix(vectors_b)
    if name == "cosine":
        a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
        b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    if name in ("cosine", "dot"):
        return (a * b).sum(-1).astype(np.float32)
    if name == "euclidean":
        return (-np.linalg.norm(a - b, axis=-1)).astype(np.float32)
    return (-np.abs(a - b).sum(-1)).astype(np.float32)
