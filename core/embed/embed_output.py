"""An embedding run's output directory: Parquet shards and a manifest, written and read back checked.

``python -m core embed`` writes one when ``--out`` is a directory (either engine; ``--engine ray``
always does). The layout::

    OUT/part-00000.parquet   columns row (int64), text, [label], vector (fixed-size list of float32)
    OUT/part-00001.parquet   …
    OUT/manifest.json        written last: the model, pooling, dimension, row count, every shard
                             with its row range, row count and sha256, the engine and the options

``row`` is the row's position among the texts embedded (the input's rows less the empty ones skipped,
as ``sentence_set`` reads them). Shard k holds rows ``k * shard_rows`` up to the next shard, in
order. ``ShardWriter`` takes blocks of rows in any order (as a cluster finishes them), refuses a row
it has already had, writes each shard as soon as its rows are all there and, at the end, refuses an
incomplete set; ``read_embedding_output`` checks the manifest against the files (sha256, counts,
unique ordered rows) before it hands texts, labels and vectors back.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ExplorerError

__all__ = ["EmbedOutputError", "EmbeddingOutput", "MANIFEST_NAME", "ShardWriter", "check_output_directory", "is_directory_output",
           "read_embedding_output", "write_embedding_output"]

MANIFEST_NAME = "manifest.json"
FORMAT = "embedding-explorer/embeddings"
FORMAT_VERSION = 1
DEFAULT_SHARD_ROWS = 50_000


class EmbedOutputError(ExplorerError, ValueError):
    """An embedding output directory cannot be written as asked, or does not match its manifest."""


@dataclass(frozen=True)
class EmbeddingOutput:
    texts: tuple[str, ...]
    labels: tuple[str, ...] | None
    vectors: np.ndarray            # [rows, dimension] float32, in row order
    manifest: dict[str, Any]       # {} for a single .parquet file, which has none


def is_directory_output(out: str | os.PathLike) -> bool:
    """``--out`` names a directory unless it ends in .parquet (then the single file of before)."""
    return not str(out).lower().endswith(".parquet")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_output_directory(directory: str | os.PathLike) -> None:
    """Refuse a file, or a directory that already holds something (shards of two runs never mix)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise EmbedOutputError(f"--out {directory} is a file; give a new directory (or a name ending in .parquet).")
    if directory.is_dir() and any(directory.iterdir()):
        raise EmbedOutputError(f"--out {directory} is not empty; give a new or empty directory so shards of "
                               "two runs never mix.")


def _prepare_directory(directory: Path) -> None:
    check_output_directory(directory)
    directory.mkdir(parents=True, exist_ok=True)


class ShardWriter:
    """Collects (rows, vectors) blocks in any order and writes shards of ``shard_rows`` rows.

    ``texts`` and ``labels`` are the driver's own copy of the input, indexed by row; blocks carry
    only row ids and vectors. A row seen twice raises at once, a missing row at ``finish``."""

    def __init__(self, directory: str | os.PathLike, texts: Sequence[str], labels: Sequence[str] | None = None, *,
                 shard_rows: int = DEFAULT_SHARD_ROWS):
        if shard_rows < 1:
            raise EmbedOutputError("--shard-rows must be at least 1.")
        if labels is not None and len(labels) != len(texts):
            raise EmbedOutputError(f"{len(labels):,} labels for {len(texts):,} texts.")
        self.directory = Path(directory)
        _prepare_directory(self.directory)
        self.texts, self.labels = texts, labels
        self.rows = len(texts)
        self.shard_rows = shard_rows
        self.dimension: int | None = None
        self._seen = np.zeros(self.rows, dtype=bool)
        self._pending: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}  # shard → blocks not yet written
        self._filled: dict[int, int] = {}
        self._shards: dict[int, dict[str, Any]] = {}
        self.done = 0

    def _shard_range(self, shard: int) -> tuple[int, int]:
        first = shard * self.shard_rows
        return first, min(first + self.shard_rows, self.rows)

    def add(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != rows.shape[0]:
            raise EmbedOutputError(f"a block of {rows.shape[0]} row ids came with vectors of shape {vectors.shape}.")
        if rows.size == 0:
            return
        if self.dimension is None:
            self.dimension = int(vectors.shape[1])
        elif vectors.shape[1] != self.dimension:
            raise EmbedOutputError(f"vectors of {vectors.shape[1]} dimensions after {self.dimension}-d ones.")
        if rows.min() < 0 or rows.max() >= self.rows:
            raise EmbedOutputError(f"row ids outside 0…{self.rows - 1} came back (e.g. {int(rows.max())}).")
        unique, counts = np.unique(rows, return_counts=True)
        again = unique[(counts > 1) | self._seen[unique]]
        if again.size:
            raise EmbedOutputError(f"rows came back twice (e.g. row {int(again[0])}): {again.size:,} duplicates; "
                                   "nothing was written for them and the run is refused.")
        self._seen[rows] = True
        self.done += int(rows.size)
        shards = rows // self.shard_rows
        for shard in np.unique(shards):
            take = shards == shard
            shard = int(shard)
            self._pending.setdefault(shard, []).append((rows[take], vectors[take]))
            self._filled[shard] = self._filled.get(shard, 0) + int(take.sum())
            first, end = self._shard_range(shard)
            if self._filled[shard] == end - first:
                self._write_shard(shard)

    def _write_shard(self, shard: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        blocks = self._pending.pop(shard)
        rows = np.concatenate([r for r, _ in blocks])
        vectors = np.concatenate([v for _, v in blocks])
        order = np.argsort(rows, kind="stable")
        rows, vectors = rows[order], np.ascontiguousarray(vectors[order])
        first, end = self._shard_range(shard)
        if not np.array_equal(rows, np.arange(first, end)):
            raise EmbedOutputError(f"shard {shard} does not hold rows {first}…{end - 1} exactly once.")
        columns = {"row": pa.array(rows, pa.int64()), "text": pa.array([self.texts[i] for i in range(first, end)], pa.string())}
        if self.labels is not None:
            columns["label"] = pa.array([str(self.labels[i]) for i in range(first, end)], pa.string())
        columns["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), self.dimension)
        name = f"part-{shard:05d}.parquet"
        path = self.directory / name
        pq.write_table(pa.table(columns), path)
        self._shards[shard] = {"file": name, "first_row": first, "last_row": end - 1, "rows": end - first,
                               "sha256": _sha256(path)}

    def finish(self, *, model: Mapping[str, Any], engine: str, options: Mapping[str, Any],
               extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Check that every row came back once, then write manifest.json (last, atomically)."""
        missing = np.flatnonzero(~self._seen)
        if missing.size:
            raise EmbedOutputError(f"{missing.size:,} of {self.rows:,} rows never came back (e.g. row {int(missing[0])}); "
                                   "no manifest was written.")
        expected = -(-self.rows // self.shard_rows)
        if self._pending or sorted(self._shards) != list(range(expected)):
            raise EmbedOutputError("some shards were never completed; no manifest was written.")
        manifest = {
            "format": FORMAT, "version": FORMAT_VERSION,
            **dict(model),
            "dimension": self.dimension, "dtype": "float32", "rows": self.rows,
            "columns": ["row", "text", *(["label"] if self.labels is not None else []), "vector"],
            "shard_rows": self.shard_rows,
            "shards": [self._shards[k] for k in range(expected)],
            "engine": engine, "options": dict(options),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **dict(extra or {}),
        }
        temporary = self.directory / (MANIFEST_NAME + ".tmp")
        temporary.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(temporary, self.directory / MANIFEST_NAME)
        return manifest


def write_embedding_output(directory: str | os.PathLike, texts: Sequence[str], vectors: np.ndarray,
                           labels: Sequence[str] | None = None, *, model: Mapping[str, Any], engine: str,
                           options: Mapping[str, Any], shard_rows: int = DEFAULT_SHARD_ROWS,
                           extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write vectors computed in one piece (``--engine local``) in the directory format."""
    writer = ShardWriter(directory, texts, labels, shard_rows=shard_rows)
    writer.add(np.arange(len(texts)), vectors)
    return writer.finish(model=model, engine=engine, options=options, extra=extra)


def _vectors(table, dimension: int | None, where: str) -> np.ndarray:
    import pyarrow as pa

    column = table.column("vector").combine_chunks()
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type) or pa.types.is_fixed_size_list(column.type)):
        raise EmbedOutputError(f"{where}: the 'vector' column is not a list of numbers.")
    flat = column.flatten().to_numpy(zero_copy_only=False)
    rows = len(table)
    if dimension is None:
        dimension = flat.size // rows if rows else 0
    if rows and flat.size != rows * dimension:
        raise EmbedOutputError(f"{where} holds vectors that are not all {dimension}-d.")
    return flat.astype(np.float32, copy=False).reshape(rows, dimension)


def _read_single_parquet(path: Path) -> EmbeddingOutput:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if "text" not in table.column_names or "vector" not in table.column_names:
        raise EmbedOutputError(f"{path} has no 'text' and 'vector' columns.")
    labels = tuple(table.column("label").to_pylist()) if "label" in table.column_names else None
    return EmbeddingOutput(tuple(table.column("text").to_pylist()), labels, _vectors(table, None, str(path)), {})


def read_embedding_output(path: str | os.PathLike) -> EmbeddingOutput:
    """Texts, labels and vectors of an output directory (or its manifest.json), checked against the
    manifest: every shard's sha256 and row count, rows 0…N-1 once each in order, the dimension.
    A single ``.parquet`` file (``--out x.parquet``) is read as well, with no manifest to check."""
    path = Path(path)
    if path.is_file() and path.name.lower().endswith(".parquet"):
        return _read_single_parquet(path)
    directory = path.parent if path.name == MANIFEST_NAME else path
    manifest_path = directory / MANIFEST_NAME
    if not manifest_path.is_file():
        raise EmbedOutputError(f"{directory} has no {MANIFEST_NAME}: not a finished embedding output.")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EmbedOutputError(f"{manifest_path} is not valid JSON ({error}).") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        raise EmbedOutputError(f"{manifest_path} is not a version-{FORMAT_VERSION} {FORMAT} manifest.")
    try:
        return _read_shards(directory, manifest)
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, EmbedOutputError):
            raise
        raise EmbedOutputError(f"{manifest_path} lacks or mangles a field ({type(error).__name__}: {error}).") from error


def _read_shards(directory: Path, manifest: dict[str, Any]) -> EmbeddingOutput:
    import pyarrow.parquet as pq

    total, dimension = int(manifest["rows"]), int(manifest["dimension"])
    texts: list[str] = []
    labels: list[str] | None = [] if "label" in manifest.get("columns", []) else None
    vectors: list[np.ndarray] = []
    next_row = 0
    for shard in manifest["shards"]:
        file = directory / shard["file"]
        if Path(shard["file"]).name != shard["file"] or not file.is_file():
            raise EmbedOutputError(f"shard {shard['file']} listed in the manifest is missing from {directory}.")
        if _sha256(file) != shard["sha256"]:
            raise EmbedOutputError(f"shard {shard['file']} does not match its sha256 in the manifest (changed or damaged).")
        table = pq.read_table(file)
        rows = table.column("row").to_numpy()
        if (len(rows) != shard["rows"] or shard["first_row"] != next_row
                or not np.array_equal(rows, np.arange(next_row, next_row + len(rows)))):
            raise EmbedOutputError(f"shard {shard['file']} does not hold rows {next_row}… in order, once each, "
                                   f"as the manifest says ({shard['rows']:,} rows from {shard['first_row']}).")
        next_row += len(rows)
        vectors.append(_vectors(table, dimension, f"shard {shard['file']}"))
        texts.extend(table.column("text").to_pylist())
        if labels is not None:
            labels.extend(table.column("label").to_pylist())
    if next_row != total:
        raise EmbedOutputError(f"the shards hold {next_row:,} rows; the manifest says {total:,}.")
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, dimension), np.float32)
    return EmbeddingOutput(tuple(texts), None if labels is None else tuple(labels), matrix, manifest)
