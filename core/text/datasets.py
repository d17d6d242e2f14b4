"""Sentence sets and vector files from users: read, check, explain what is wrong.

Accepted: CSV, TSV, Parquet or JSON Lines tables with a text column (and optionally a label column);
precomputed vectors as .npy (with the texts in a separate table) or as Parquet with a
``vector`` list column beside ``text``. Every problem becomes a ``DatasetError`` that says
what and where; nothing here raises anything else on bad input.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ExplorerError
from .text_files import decode_text

MAX_ROWS = 200_000
MAX_MAP_ROWS = 2_000_000   # rows of a table of precomputed 2-D points (drawn, never embedded)
MAX_TEXT_CHARS = 10_000


class DatasetError(ExplorerError, ValueError):
    """An uploaded or given dataset cannot be used as it is."""


@dataclass(frozen=True)
class SentenceSet:
    texts: tuple[str, ...]
    labels: tuple[str, ...] | None
    dropped_empty: int = 0
    vectors: np.ndarray | None = None   # precomputed [N, d], if the file carried them


def _kind(filename: str) -> str:
    name = filename.lower()
    for suffix in (".parquet", ".tsv", ".csv", ".txt", ".jsonl", ".ndjson", ".npy"):
        if name.endswith(suffix):
            return "jsonl" if suffix == ".ndjson" else suffix[1:]
    raise DatasetError(f"'{filename}' is not a CSV, TSV, TXT, JSONL, Parquet or .npy file.")


def _read_json_lines(text: str, filename: str, max_rows: int) -> pd.DataFrame:
    """One JSON value per line: an object is a row (its keys the columns), anything else a row of
    column 'text'; blank lines are skipped. A broken line is named."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetError(f"'{filename}', line {number}: not valid JSON ({error.msg}, column {error.colno}).") from error
        rows.append(value if isinstance(value, dict) else {"text": value})
        if len(rows) > max_rows:
            break
    return pd.DataFrame(rows)


def read_table(content: bytes, filename: str, *, max_rows: int = MAX_ROWS) -> pd.DataFrame:
    kind = _kind(filename)
    if not content:
        raise DatasetError(f"'{filename}' is empty.")
    if kind == "parquet":
        try:
            frame = pd.read_parquet(io.BytesIO(content))
        except Exception as error:  # noqa: BLE001 - pyarrow raises many types for broken files
            raise DatasetError(f"'{filename}' is not a readable Parquet file ({type(error).__name__}).") from error
    elif kind == "npy":
        raise DatasetError("A .npy file holds vectors only; upload the texts as a table beside it.")
    else:
        text = decode_text(content, f"'{filename}'", DatasetError)
        if kind == "txt":
            frame = pd.DataFrame({"text": [line for line in text.splitlines()]})
        elif kind == "jsonl":
            frame = _read_json_lines(text, filename, max_rows)
        else:
            try:
                frame = pd.read_csv(io.StringIO(text), sep="\t" if kind == "tsv" else ",", dtype=str,
                                    keep_default_na=False, nrows=max_rows + 1, quoting=csv.QUOTE_MINIMAL)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as error:
                raise DatasetError(f"'{filename}' could not be read as {kind.upper()}: {str(error).splitlines()[0]}") from error
    if len(frame) > max_rows:
        raise DatasetError(f"'{filename}' has more than {max_rows:,} rows; the page takes at most {max_rows:,}. "
                           "Embed larger sets with `python -m core embed` and upload a sample.")
    if frame.empty or len(frame.columns) == 0:
        raise DatasetError(f"'{filename}' has no rows.")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def sentence_set(frame: pd.DataFrame, text_column: str, label_column: str | None = None) -> SentenceSet:
    if text_column not in frame.columns:
        raise DatasetError(f"There is no column '{text_column}' (columns: {', '.join(map(str, frame.columns[:20]))}).")
    if label_column and label_column not in frame.columns:
        raise DatasetError(f"There is no column '{label_column}'.")
    texts = frame[text_column].astype(str).map(lambda s: s.strip()[:MAX_TEXT_CHARS])
    keep = (texts != "") & (texts.str.lower() != "nan")
    if not keep.any():
        raise DatasetError(f"The column '{text_column}' is empty.")
    labels = None
    if label_column:
        labels = tuple(frame.loc[keep, label_column].astype(str))
    vectors = None
    if "vector" in frame.columns and text_column != "vector":
        vectors = vectors_from_column(frame.loc[keep, "vector"])
    return SentenceSet(tuple(texts[keep]), labels, int((~keep).sum()), vectors)


def vectors_from_column(column: pd.Series) -> np.ndarray:
    try:
        matrix = np.stack([np.asarray(v, dtype=np.float32) for v in column])
    except (ValueError, TypeError) as error:
        raise DatasetError("The 'vector' column does not hold equal-length numeric lists.") from error
    return check_vectors(matrix)


def read_vectors(content: bytes, filename: str) -> np.ndarray:
    if _kind(filename) != "npy":
        raise DatasetError("Vectors come as a .npy file (or a Parquet table with a 'vector' column).")
    try:
        matrix = np.load(io.BytesIO(content), allow_pickle=False)  # never unpickle an upload
    except (ValueError, OSError, EOFError) as error:
        raise DatasetError(f"'{filename}' is not a readable .npy array ({str(error).splitlines()[0][:120]}).") from error
    return check_vectors(matrix)


def check_vectors(matrix: np.ndarray, max_rows: int = MAX_ROWS) -> np.ndarray:
    if matrix.ndim != 2 or matrix.shape[0] < 1 or matrix.shape[1] < 2:
        raise DatasetError(f"Vectors must be a 2-D array [rows, dimensions]; got shape {matrix.shape}.")
    if not np.issubdtype(matrix.dtype, np.number):
        raise DatasetError("Vectors must be numbers.")
    if matrix.shape[0] > max_rows:
        raise DatasetError(f"{matrix.shape[0]:,} vectors; the page takes at most {max_rows:,}.")
    matrix = matrix.astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
    if len(bad):
        rows = ", ".join(f"{i + 1:,}" for i in bad[:5]) + (" …" if len(bad) > 5 else "")
        raise DatasetError(f"{len(bad):,} of the {matrix.shape[0]:,} vectors contain NaN or infinite values (rows {rows}, "
                           "counting from 1). Drop or fix those rows and upload again.")
    return matrix


def map_points(frame: pd.DataFrame, x_column: str = "x", y_column: str = "y") -> np.ndarray:
    """Precomputed 2-D coordinates from two numeric columns of a table, as [N, 2] float32."""
    missing = [c for c in (x_column, y_column) if c not in frame.columns]
    if missing:
        raise DatasetError(f"The table has no column {' or '.join(repr(c) for c in missing)}: a map needs the "
                           f"coordinates as two numeric columns (found: {', '.join(map(str, list(frame.columns)[:12]))}).")
    try:
        points = np.column_stack([pd.to_numeric(frame[c], errors="raise").to_numpy(dtype=np.float64) for c in (x_column, y_column)])
    except (ValueError, TypeError) as error:
        raise DatasetError(f"The columns {x_column!r} and {y_column!r} must hold numbers only ({str(error).splitlines()[0][:100]}).") from error
    bad = np.flatnonzero(~np.isfinite(points).all(axis=1))
    if len(bad):
        rows = ", ".join(f"{i + 1:,}" for i in bad[:5]) + (" …" if len(bad) > 5 else "")
        raise DatasetError(f"{len(bad):,} rows have a missing, NaN or infinite coordinate (rows {rows}, counting from 1).")
    return points.astype(np.float32)


def pair_vectors_with_texts(vectors: np.ndarray, texts: SentenceSet) -> SentenceSet:
    if vectors.shape[0] != len(texts.texts):
        raise DatasetError(f"{vectors.shape[0]:,} vectors but {len(texts.texts):,} texts: the rows must match one to one.")
    return SentenceSet(texts.texts, texts.labels, texts.dropped_empty, vectors)


def write_vectors_parquet(path, texts, vectors: np.ndarray, labels=None) -> None:
    frame = pd.DataFrame({"text": list(texts), "vector": list(np.asarray(vectors, dtype=np.float32))})
    if labels is not None:
        frame.insert(1, "label", list(labels))
    frame.to_parquet(path, index=False)
