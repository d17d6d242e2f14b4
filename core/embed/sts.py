"""The STS benchmark: Spearman correlation of cosine similarity with human scores.

The file format is the STS-B one: comma-separated ``sentence1,sentence2,score`` with no
header and scores from 0 to 5 (quoted fields may contain commas). Every problem is reported
with the line it is on.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from scipy.stats import spearmanr

from ..pipeline.pooling import compared_poolings
from .embedding import embed_texts
from ..errors import ExplorerError
from ..text.idf import idf_weights
from ..models.explorer_model import ExplorerModel
from ..text.text_files import decode_text

MAX_STS_PAIRS = 20_000


class StsFormatError(ExplorerError, ValueError):
    """The STS file is not sentence1,sentence2,score with scores in [0, 5]."""


@dataclass(frozen=True)
class StsPairs:
    sentence1: tuple[str, ...]
    sentence2: tuple[str, ...]
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    def unique_sentences(self) -> list[str]:
        return list(dict.fromkeys(self.sentence1 + self.sentence2))


@dataclass(frozen=True)
class StsResult:
    n_pairs: int
    n_unique_sentences: int
    spearman: dict[str, float]               # pooling → Spearman ×100
    similarities: dict[str, np.ndarray] = field(repr=False)  # pooling → cosine per pair
    gold: np.ndarray = field(repr=False)


def read_sts(source: str | Path | bytes, *, max_pairs: int = MAX_STS_PAIRS) -> StsPairs:
    """Parse an STS file (a path or the raw bytes of an upload)."""
    if isinstance(source, (bytes, bytearray)):
        raw = bytes(source)
    else:
        try:
            raw = Path(source).read_bytes()
        except OSError as error:
            raise StsFormatError(f"Cannot read the STS file: {error.strerror or error}.") from error
    text = decode_text(raw, "The STS file", StsFormatError)
    if not text.strip():
        raise StsFormatError("The STS file is empty.")
    first, second, scores = [], [], []
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != 3:
                raise StsFormatError(f"Line {line}: expected 3 columns (sentence1,sentence2,score), found {len(row)}.")
            a, b, value = row
            if not a.strip() or not b.strip():
                raise StsFormatError(f"Line {line}: a sentence is empty.")
            try:
                score = float(value)
            except ValueError:
                raise StsFormatError(
                    f"Line {line}: the score '{value[:40]}' is not a number"
                    + (" (the file must have no header row)." if line == 1 else ".")
                ) from None
            if not 0.0 <= score <= 5.0 or np.isnan(score):
                raise StsFormatError(f"Line {line}: the score {value} is outside 0–5.")
            first.append(a)
            second.append(b)
            scores.append(score)
            if len(scores) > max_pairs:
                raise StsFormatError(f"The file has more than {max_pairs:,} pairs; evaluate it from the command line in parts.")
    except csv.Error as error:
        raise StsFormatError(f"Line {reader.line_num}: {error}.") from error
    if len(scores) < 2:
        raise StsFormatError("The STS file needs at least 2 pairs to compute a correlation.")
    return StsPairs(tuple(first), tuple(second), np.asarray(scores, dtype=np.float64))


def evaluate_sts(
    explorer: ExplorerModel,
    pairs: StsPairs,
    poolings: Sequence[str] | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    batch_size: int = 32,
) -> StsResult:
    """Spearman ×100 of cosine vs gold for each pooling; all poolings from one forward pass over the unique sentences."""
    if poolings is None:
        poolings = compared_poolings(explorer.info)
    unique = pairs.unique_sentences()
    index = {sentence: i for i, sentence in enumerate(unique)}
    weights = idf_weights(explorer.tokenizer, unique) if "idf" in poolings else None
    vectors = embed_texts(
        explorer, unique, pooling=list(poolings), normalize=True, batch_size=batch_size,
        progress=progress, should_stop=should_stop, idf=weights,
    )
    left = np.asarray([index[s] for s in pairs.sentence1])
    right = np.asarray([index[s] for s in pairs.sentence2])
    similarities, spearman = {}, {}
    for name in poolings:
        cosine = np.sum(vectors[name][left] * vectors[name][right], axis=1)
        similarities[name] = cosine
        spearman[name] = float(spearmanr(cosine, pairs.scores).statistic * 100)
    return StsResult(len(pairs), len(unique), spearman, similarities, pairs.scores)
