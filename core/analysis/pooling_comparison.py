"""Every pooling of one trace side by side: the pooled vectors, their norms and cosines, max pooling's winners, the normalisation check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..pipeline.pooling import compared_poolings, max_pooling_winners, pool
from ..trace.tracer import Trace
from .similarity import cosine_matrix


def pooling_names(trace: Trace) -> list[str]:
    """The poolings the explorer compares for this model (core.pipeline.pooling.compared_poolings)."""
    return compared_poolings(trace.model)


@dataclass(frozen=True)
class NormalisationCheck:
    """cos(a, b) against the dot product of a and b after L2-normalising both."""
    name: str                 # the pooling of a (the native one, else mean)
    other: str                # the pooling of b ([CLS], or mean when a is [CLS])
    norm: float               # ‖a‖ before normalising
    unit_norm: float          # ‖a / ‖a‖‖
    cosine: float             # a·b / (‖a‖ ‖b‖)
    dot: float                # (a/‖a‖)·(b/‖b‖)

    @property
    def difference(self) -> float:
        return abs(self.cosine - self.dot)


@dataclass(frozen=True)
class PoolingComparison:
    names: tuple[str, ...]                 # the poolings, in the order given
    reference: str                         # the pooling the cosines compare to (native, else mean)
    pooled: Mapping[str, np.ndarray]       # name → [d] pooled vector, before normalisation
    norms: Mapping[str, float]             # name → L2 norm of the pooled vector
    cosine_to_reference: Mapping[str, float]
    max_winners: np.ndarray                # [d] index of the token max pooling takes each dimension from
    max_wins: np.ndarray                   # [T] how many dimensions each token wins
    normalisation: NormalisationCheck

    @property
    def rows(self) -> np.ndarray:
        """[len(names), d]: one pooled vector per row, in the order of ``names``."""
        return np.stack([self.pooled[n] for n in self.names])

    @property
    def top_winner(self) -> int:
        """The position of the token that wins the most dimensions (the first one on a tie)."""
        return int(self.max_wins.argmax())


def compare_poolings(trace: Trace, idf: np.ndarray | None, names=None) -> PoolingComparison:
    """Pool ``trace.last_hidden_state`` with every pooling in ``names`` (default: ``pooling_names``).

    ``idf`` is the vocabulary's IDF weights ([V], indexed by token id) for the IDF-weighted mean."""
    names = tuple(pooling_names(trace) if names is None else names)
    hidden = trace.last_hidden_state
    token_idf = None if idf is None else np.asarray(idf)[trace.tokens.input_ids]
    pooled = {name: pool(name, hidden, None, token_idf).numpy()[0] for name in names}
    reference = trace.native_pooling if trace.native_pooling in pooled else "mean"
    ref_vector = pooled[reference]
    norms = {n: float(np.linalg.norm(pooled[n])) for n in names}
    cosines = {n: float(cosine_matrix(pooled[n][None], ref_vector[None])[0, 0]) for n in names}
    winners = max_pooling_winners(hidden)[0].numpy()
    wins = np.bincount(winners, minlength=trace.n_tokens)
    return PoolingComparison(names, reference, pooled, norms, cosines, winners, wins,
                             normalisation_check(pooled, reference))


def normalisation_check(pooled: Mapping[str, np.ndarray], name: str) -> NormalisationCheck:
    """On unit vectors the cosine is the dot product: check it for ``pooled[name]`` against [CLS] (mean for [CLS])."""
    other_name = "cls" if name != "cls" else "mean"
    vector, other = pooled[name], pooled[other_name]
    unit = vector / np.linalg.norm(vector)
    other_unit = other / np.linalg.norm(other)
    cosine = float(vector @ other / (np.linalg.norm(vector) * np.linalg.norm(other)))
    return NormalisationCheck(name, other_name, float(np.linalg.norm(vector)), float(np.linalg.norm(unit)), cosine,
                              float(unit @ other_unit))
