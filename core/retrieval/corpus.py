"""A corpus for retrieval: the user's passages, cut into what the model embeds, and bundled examples.

Every passage becomes one or more *units*: the whole passage (which the model then truncates at its
window, as sentence-transformers does) or consecutive chunks that each fit the window, ranked by
their best chunk. The bundled examples are real text with known answers: STS-B dev pairs scored at
least 4 (one side as queries, the other as the corpus) and the docstrings that ship with Python
itself (the first paragraph as the query, the rest as the passage: long enough to be truncated).
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import InputTextError
from ..text.datasets import DatasetError
from ..text.tokenization import MAX_TEXT_CHARS
from ..text.vocabulary import chunk_document

MAX_PASSAGES = 20_000   # the page's cap; larger corpora through `python -m core embed`
CHUNKING_MODES = ("truncate", "chunks")


@dataclass(frozen=True)
class Chunking:
    mode: str = "truncate"      # "truncate": one unit per passage, cut at the window; "chunks": windows that fit
    chunk_tokens: int = 128     # tokens per chunk, special tokens (and the document prompt) included
    overlap: int = 16           # tokens repeated between neighbouring chunks

    def __post_init__(self):
        if self.mode not in CHUNKING_MODES:
            raise InputTextError(f"Unknown chunking '{self.mode}': choose {' or '.join(CHUNKING_MODES)}.")


@dataclass(frozen=True)
class Unit:
    """What the model embeds: a passage, or one chunk of it."""

    passage: int                # index of the passage it belongs to
    chunk: int                  # 0 for a whole passage
    text: str
    start_char: int
    end_char: int


@dataclass(frozen=True)
class Corpus:
    passages: tuple[str, ...]
    units: tuple[Unit, ...]
    chunking: Chunking
    duplicates: tuple[tuple[int, int], ...]   # (later index, first index) of passages that repeat an earlier one

    def units_of(self, passage: int) -> list[int]:
        return [index for index, unit in enumerate(self.units) if unit.passage == passage]


def clean_passages(passages: Sequence[str], limit: int = MAX_PASSAGES) -> list[str]:
    """The passages as given, blank lines dropped; a clear error for nothing usable or more than
    ``limit`` (a host may set a lower one than the page's own)."""
    kept = [p for p in (str(p).strip() for p in passages) if p]
    if not kept:
        raise InputTextError("The corpus is empty: give at least two passages (one per line, or a file).")
    if len(kept) < 2:
        raise InputTextError("The corpus has one passage: ranking needs at least two to compare.")
    limit = min(int(limit), MAX_PASSAGES)
    if len(kept) > limit:
        raise InputTextError(f"The corpus has {len(kept):,} passages; this page ranks at most {limit:,}. "
                             "Embed larger corpora with `python -m core embed` and upload the texts with their vectors.")
    too_long = [i for i, p in enumerate(kept) if len(p) > MAX_TEXT_CHARS]
    if too_long:
        raise InputTextError(f"Passage {too_long[0] + 1} has {len(kept[too_long[0]]):,} characters; the explorer takes at "
                             f"most {MAX_TEXT_CHARS:,} per passage.")
    return kept


_NUMBER = re.compile(r"[+-]?(\d[\d_]*([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?%?")


def passages_from_table(frame, column: str) -> tuple[list[str], int]:
    """The texts of one column of an uploaded table (``core.text.datasets.read_table``), whitespace
    stripped, blank rows dropped (their count returned), nothing shortened; a clear error for a
    column that holds no text: numbers, lists or objects (JSON Lines), bytes."""
    if column not in frame.columns:
        raise DatasetError(f"There is no column '{column}' (columns: {', '.join(map(str, frame.columns[:20]))}).")
    values = [value for value in frame[column].tolist() if not (value is None or (isinstance(value, float) and value != value))]
    not_text = [value for value in values if not isinstance(value, str)]
    if not_text:
        example = repr(not_text[0])
        raise DatasetError(f"The column '{column}' is not text: {len(not_text):,} of its {len(values):,} values are "
                           f"{type(not_text[0]).__name__} (like {example[:40] + ('…' if len(example) > 40 else '')}). "
                           "Choose the column that holds the passages.")
    texts = [value.strip() for value in values]
    kept = [text for text in texts if text]
    if not kept:
        raise DatasetError(f"The column '{column}' is empty.")
    if all(_NUMBER.fullmatch(text) for text in kept):
        raise DatasetError(f"The column '{column}' holds only numbers (like {kept[0][:20]}), not text: choose the "
                           "column that holds the passages.")
    return kept, len(frame) - len(kept)


def make_corpus(tokenizer, passages: Sequence[str], max_length: int, chunking: Chunking = Chunking(), *,
                prompt_tokens: int = 0) -> Corpus:
    """Cut ``passages`` into units. With chunks, each fits ``min(chunk_tokens, max_length)`` tokens
    together with the special tokens and ``prompt_tokens`` of a document prompt."""
    passages = clean_passages(passages)
    first_seen: dict[str, int] = {}
    duplicates = []
    for index, text in enumerate(passages):
        if text in first_seen:
            duplicates.append((index, first_seen[text]))
        else:
            first_seen[text] = index
    units: list[Unit] = []
    if chunking.mode == "truncate":
        units = [Unit(index, 0, text, 0, len(text)) for index, text in enumerate(passages)]
    else:
        window = min(int(chunking.chunk_tokens), int(max_length)) - int(prompt_tokens)
        n_special = int(tokenizer.num_special_tokens_to_add(pair=False))
        if window - n_special < 8:
            raise InputTextError(f"Chunks of {chunking.chunk_tokens} tokens leave too little room for text after the "
                                 "special tokens and the prompt: choose at least 16.")
        for index, text in enumerate(passages):
            for chunk in chunk_document(tokenizer, text, window, overlap=int(chunking.overlap)):
                units.append(Unit(index, chunk.index, chunk.text, chunk.start_char, chunk.end_char))
    return Corpus(tuple(passages), tuple(units), chunking, tuple(duplicates))


# ---------------------------------------------------------------------------------------------
# Bundled examples
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RetrievalExample:
    name: str
    queries: tuple[str, ...]
    passages: tuple[str, ...]
    answers: tuple[int, ...]     # for each query, the index of the passage that answers it
    source: str                  # where the text comes from, and its licence


def stsb_example(path: str | Path, min_score: float = 4.0) -> RetrievalExample:
    """STS-B pairs scored at least ``min_score``: sentence 1 as the query, sentence 2 as its answer; the
    corpus is every such sentence 2, once each (a query whose answer repeats keeps the first)."""
    from ..embed.sts import read_sts

    pairs = read_sts(path)
    passages: dict[str, int] = {}
    queries, answers = [], []
    for first, second, score in zip(pairs.sentence1, pairs.sentence2, pairs.scores):
        if score < min_score or first == second:
            continue
        answer = passages.setdefault(second, len(passages))
        queries.append(first)
        answers.append(answer)
    return RetrievalExample(f"STS-B dev, pairs scored ≥ {min_score:g}", tuple(queries), tuple(passages), tuple(answers),
                            "STS Benchmark (Cer et al., 2017) via stsb-multi-mt; scores CC BY-SA 4.0, sentences under "
                            "their sources' terms (assets/stsb/LICENSE)")


# Standard-library modules with long docstrings of their own (their text ships with this Python).
DOCSTRING_MODULES = ("json", "argparse", "csv", "unittest", "sqlite3", "typing", "itertools", "collections",
                     "subprocess", "re", "string", "textwrap", "heapq", "bisect", "pickle", "shelve", "tarfile",
                     "zipfile", "difflib", "doctest", "optparse", "getopt", "pdb", "timeit", "trace", "tokenize")
_DOCSTRING_OBJECTS = ("json.dumps", "json.loads", "re.sub", "re.compile", "subprocess.run", "subprocess.Popen",
                      "argparse.ArgumentParser", "collections.namedtuple", "collections.OrderedDict", "itertools.groupby",
                      "functools.lru_cache", "functools.partial", "functools.reduce", "textwrap.wrap", "textwrap.dedent",
                      "heapq.merge", "bisect.insort_left", "pickle.dump", "csv.DictReader", "difflib.SequenceMatcher",
                      "shutil.copytree", "shutil.rmtree", "os.walk", "os.makedirs", "tempfile.mkstemp",
                      "tempfile.NamedTemporaryFile", "threading.Thread", "threading.Lock", "asyncio.gather",
                      "asyncio.wait_for", "contextlib.contextmanager", "contextlib.suppress", "dataclasses.dataclass",
                      "dataclasses.field", "pathlib.Path.glob", "zipfile.ZipFile", "tarfile.open", "logging.basicConfig",
                      "inspect.signature", "statistics.median", "random.shuffle", "sqlite3.connect", "urllib.parse.urlparse",
                      "uuid.uuid4", "math.isclose", "typing.TypeVar", "unittest.mock.patch", "hashlib.pbkdf2_hmac")


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            value = getattr(value, name, None)
            if value is None:
                return None
        return value
    return None


def docstring_example(min_words: int = 25) -> RetrievalExample:
    """The docstrings of this Python's own standard library: each one's first paragraph is a query, the
    rest of it the passage that answers it. Read from the running interpreter, so nothing is copied."""
    import sys

    queries, passages = [], []
    for dotted in DOCSTRING_MODULES + _DOCSTRING_OBJECTS:
        value = _resolve(dotted)
        doc = inspect.getdoc(value) if value is not None else None
        if not doc:
            continue
        summary, _, body = doc.strip().partition("\n\n")  # the first paragraph is the summary
        summary, body = " ".join(summary.split()), body.strip()
        if len(body.split()) < min_words or not 3 <= len(summary.split()) <= 40 or body in passages:
            continue
        queries.append(summary)
        passages.append(body)
    version = ".".join(map(str, sys.version_info[:3]))
    return RetrievalExample("Python's own docstrings", tuple(queries), tuple(passages), tuple(range(len(passages))),
                            f"docstrings of the Python {version} standard library running this app (PSF License)")
