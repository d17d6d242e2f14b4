"""The vocabulary and the embedding table as a dictionary: lookups both ways, the special
tokens, nearest rows by cosine, word-by-word splits of two tokenizers, and chunking a long
document into windows that fit the model.

Pure numpy and tokenizers; no Streamlit.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
import numpy as np

from ..errors import InputTextError
from .tokenization import validate_text

# ---------------------------------------------------------------------------------------------
# Lookups and special tokens
# ---------------------------------------------------------------------------------------------


def vocabulary_size(tokenizer) -> int:
    """Every id the tokenizer can produce (base vocabulary plus added tokens)."""
    return len(tokenizer)


@dataclass(frozen=True)
class SpecialToken:
    role: str        # cls_token, sep_token, bos_token … or "additional"
    token: str
    id: int


def special_tokens(tokenizer) -> list[SpecialToken]:
    """The tokenizer's special tokens with their roles and ids (a token with several roles, like
    GPT-2's <|endoftext|>, is listed once with all of them)."""
    roles: dict[str, list[str]] = {}
    for role, value in (tokenizer.special_tokens_map or {}).items():
        for token in value if isinstance(value, (list, tuple)) else [value]:
            roles.setdefault(str(token), []).append(role)
    for token in getattr(tokenizer, "all_special_tokens", []) or []:
        roles.setdefault(str(token), ["additional"])
    out = []
    for token, names in roles.items():
        token_id = tokenizer.convert_tokens_to_ids(token)
        if token_id is None:
            continue
        out.append(SpecialToken(role=", ".join(names), token=token, id=int(token_id)))
    return sorted(out, key=lambda item: item.id)


def id_to_token(tokenizer, token_id) -> str:
    """The vocabulary entry with this id; a clear error for anything that is not a valid id."""
    size = vocabulary_size(tokenizer)
    try:
        value = int(token_id)
    except (TypeError, ValueError):
        raise InputTextError(f"'{token_id}' is not a whole number: ids go from 0 to {size - 1:,}.") from None
    if value != token_id and not isinstance(token_id, str):
        raise InputTextError(f"{token_id} is not a whole number: ids go from 0 to {size - 1:,}.")
    if not 0 <= value < size:
        raise InputTextError(f"There is no id {value:,}: this vocabulary's ids go from 0 to {size - 1:,}.")
    token = tokenizer.convert_ids_to_tokens(value)
    if token is None:
        raise InputTextError(f"Id {value:,} has no entry in this vocabulary.")
    return str(token)


@dataclass(frozen=True)
class TokenLookup:
    query: str
    id: int | None                   # None: the string is not one entry of the vocabulary
    pieces: tuple[str, ...]          # how the tokenizer splits the string as text
    piece_ids: tuple[int, ...]


def token_to_id(tokenizer, token: str) -> TokenLookup:
    """Look ``token`` up as one vocabulary entry (exact spelling, e.g. '##ing' or 'Ġworld'), and
    say how the tokenizer splits the same string when it is typed as text."""
    if not isinstance(token, str) or token == "":
        raise InputTextError("Type a token to look up, e.g. cat, ##ing or Ġworld.")
    if len(token) > 200:
        raise InputTextError("That is longer than any vocabulary entry: type one token (at most 200 characters).")
    vocab = tokenizer.get_vocab()
    token_id = vocab.get(token)
    encoded = tokenizer(token, add_special_tokens=False, verbose=False)
    ids = tuple(int(i) for i in encoded["input_ids"])
    return TokenLookup(query=token, id=None if token_id is None else int(token_id),
                       pieces=tuple(tokenizer.convert_ids_to_tokens(list(ids))), piece_ids=ids)


# ---------------------------------------------------------------------------------------------
# Nearest rows of the embedding table
# ---------------------------------------------------------------------------------------------


def row_norms(table: np.ndarray) -> np.ndarray:
    """[V] L2 norm of each row (compute once per model; the cosine search reuses it)."""
    return np.linalg.norm(np.asarray(table, dtype=np.float32), axis=1)


@dataclass(frozen=True)
class Neighbour:
    id: int
    cosine: float


def nearest_rows(table: np.ndarray, token_id: int, k: int = 10, *, norms: np.ndarray | None = None,
                 exclude_self: bool = True) -> list[Neighbour]:
    """The ``k`` rows of ``table`` [V, d] most similar (cosine) to row ``token_id``, best first."""
    table = np.asarray(table)
    size = table.shape[0]
    if not 0 <= int(token_id) < size:
        raise InputTextError(f"There is no row {token_id}: the table has rows 0 to {size - 1:,}.")
    norms = row_norms(table) if norms is None else norms
    query = table[int(token_id)].astype(np.float32)
    query_norm = float(np.linalg.norm(query))
    scores = (table @ query) / np.maximum(norms * query_norm, 1e-12)
    if exclude_self:
        scores = scores.copy()
        scores[int(token_id)] = -np.inf
    k = max(0, min(int(k), size - (1 if exclude_self else 0)))
    if k == 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.lexsort((top, -scores[top]))]   # best first; ties by id, so the order is stable
    return [Neighbour(id=int(i), cosine=float(scores[i])) for i in top]


# ---------------------------------------------------------------------------------------------
# Words and their tokens, for two tokenizers side by side
# ---------------------------------------------------------------------------------------------

_WORD = re.compile(r"\S+")


def words(text: str) -> list[tuple[int, int]]:
    """Character spans of whitespace-separated words (the same 'word' for every tokenizer)."""
    return [match.span() for match in _WORD.finditer(text)]


@dataclass(frozen=True)
class WordSplit:
    tokenizer_name: str
    word_spans: tuple[tuple[int, int], ...]
    pieces: tuple[tuple[str, ...], ...]   # per word, its tokens (vocabulary spelling)
    n_tokens: int                          # tokens for the whole text, special tokens excluded
    n_special: int                         # special tokens the tokenizer adds to one text

    @property
    def n_words(self) -> int:
        return len(self.word_spans)

    @property
    def tokens_per_word(self) -> float:
        return self.n_tokens / self.n_words if self.n_words else 0.0


def split_by_words(tokenizer, text: str, name: str = "") -> WordSplit:
    """Tokenize the whole ``text`` (no truncation) and assign each token to the word it starts in."""
    text = validate_text(text)
    encoded = tokenizer(text, add_special_tokens=False, truncation=False, return_offsets_mapping=True, verbose=False)
    spans = words(text)
    starts = [start for start, _ in spans]
    tokens = tokenizer.convert_ids_to_tokens(list(encoded["input_ids"]))
    per_word: list[list[str]] = [[] for _ in spans]
    for token, (start, end) in zip(tokens, encoded["offset_mapping"]):
        position = start
        while position < end and text[position].isspace():  # byte-level BPE spans include the leading space
            position += 1
        index = bisect.bisect_right(starts, position) - 1
        if 0 <= index < len(spans) and position < spans[index][1]:
            per_word[index].append(str(token))
    return WordSplit(
        tokenizer_name=name,
        word_spans=tuple(spans),
        pieces=tuple(tuple(p) for p in per_word),
        n_tokens=len(encoded["input_ids"]),
        n_special=int(tokenizer.num_special_tokens_to_add(pair=False)),
    )


_CONTINUATION_MARKS = ("##", "Ġ", "▁")  # WordPiece continues with ##; byte-level BPE and SentencePiece start words with Ġ / ▁


def split_pieces_equal(pieces_a: tuple[str, ...] | list[str], pieces_b: tuple[str, ...] | list[str]) -> bool:
    """Whether two tokenizers cut one word into the same pieces, ignoring how each marks a piece that
    starts or continues a word, and letter case (an uncased vocabulary lower-cases first)."""
    def bare(piece: str) -> str:
        for mark in _CONTINUATION_MARKS:
            if piece.startswith(mark):
                piece = piece[len(mark):]
        return piece.lower()

    return [bare(p) for p in pieces_a] == [bare(p) for p in pieces_b]


# ---------------------------------------------------------------------------------------------
# Chunking a long document into windows the model reads whole
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    index: int
    start_char: int
    end_char: int
    first_token: int            # index into the whole document's tokens (special tokens excluded)
    end_token: int              # exclusive
    n_tokens: int               # tokens the model reads for this chunk alone, special tokens included
    text: str


def chunk_document(tokenizer, text: str, max_length: int, *, overlap: int = 0) -> list[Chunk]:
    """Split ``text`` into consecutive windows that each fit ``max_length`` tokens (special tokens
    included), ending at word boundaries where possible; ``overlap`` tokens are repeated between
    neighbouring windows. Every chunk is re-tokenized on its own and shrunk until it fits."""
    text = validate_text(text)
    n_special = int(tokenizer.num_special_tokens_to_add(pair=False))
    capacity = int(max_length) - n_special
    if capacity < 1:
        raise InputTextError(f"A window of {max_length} tokens leaves no room for text after the special tokens.")
    overlap = max(0, min(int(overlap), capacity // 2))
    encoded = tokenizer(text, add_special_tokens=False, truncation=False, return_offsets_mapping=True, verbose=False)
    offsets = [tuple(span) for span in encoded["offset_mapping"]]
    word_ids = encoded.word_ids()
    total = len(offsets)
    if total == 0:
        raise InputTextError("The tokenizer found nothing to read in this text.")

    def word_start(index: int) -> bool:
        return index <= 0 or index >= total or word_ids[index] is None or word_ids[index] != word_ids[index - 1]

    def fits(first: int, end: int) -> tuple[bool, int]:
        piece = text[offsets[first][0]:offsets[end - 1][1]]
        count = len(tokenizer(piece, add_special_tokens=True, truncation=False, verbose=False)["input_ids"])
        return count <= max_length, count

    chunks: list[Chunk] = []
    first = 0
    while first < total:
        end = min(first + capacity, total)
        if end < total:  # step back to the start of a word so no word is cut in two
            back = end
            while back > first + 1 and not word_start(back):
                back -= 1
            if back > first + 1:
                end = back
        ok, count = fits(first, end)
        while not ok and end - first > 1:  # retokenized alone it needs more tokens (rare): shrink
            end -= max(1, (count - max_length))
            end = max(end, first + 1)
            ok, count = fits(first, end)
        start_char, end_char = offsets[first][0], offsets[end - 1][1]
        chunks.append(Chunk(index=len(chunks), start_char=int(start_char), end_char=int(end_char), first_token=first,
                            end_token=end, n_tokens=count, text=text[start_char:end_char]))
        if end >= total:
            break
        next_first = max(end - overlap, first + 1)
        while overlap and next_first > first + 1 and not word_start(next_first):
            next_first -= 1
        first = next_first
    return chunks



# ---------------------------------------------------------------------------------------------
# One token's raw row and what actually enters layer 1
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddingParts:
    names: tuple[str, ...]          # e.g. token row, position row, token-type row, sum, after LayerNorm
    vectors: np.ndarray             # [len(names), d]
    norm_module: str | None         # the module that normalises the sum (None: the sum enters as it is)
    max_abs_difference: float       # |recomputed − recorded| of what enters layer 1 (0 up to float rounding)


def embedding_parts(explorer, stage, index: int) -> EmbeddingParts:
    """Token ``index``'s table row, its position and token-type rows (where the model has them),
    their sum, and what the model fed to layer 1, with the sum's normalisation recomputed from
    the model's own LayerNorm weights to show the recorded output is exactly that."""
    arch = explorer.architecture
    names, vectors = ["token row (the lookup)"], [np.asarray(stage.token_rows[index], dtype=np.float32)]
    total = vectors[0].astype(np.float64)
    if stage.position_rows is not None:
        names.append("+ position row")
        vectors.append(np.asarray(stage.position_rows[index], dtype=np.float32))
        total = total + vectors[-1]
    if stage.token_type_rows is not None:
        names.append("+ token-type row")
        vectors.append(np.asarray(stage.token_type_rows[index], dtype=np.float32))
        total = total + vectors[-1]
    if len(vectors) > 1:
        names.append("= sum")
        vectors.append(total.astype(np.float32))
    norm_path = arch.embedding_norm if explorer.has_module(arch.embedding_norm) else None
    output = np.asarray(stage.output[index], dtype=np.float32)
    if norm_path is not None:
        recomputed = explorer.apply_module(norm_path, total.astype(np.float32)[None])[0]
        names.append("after LayerNorm = enters layer 1")
    elif stage.token_scale is not None:  # Gemma multiplies the row by √d_model (in float32, as the model does)
        recomputed = total.astype(np.float32) * np.float32(stage.token_scale)
        names.append(f"× {stage.token_scale:.4g} (√d) = enters layer 1")
    else:
        recomputed = total.astype(np.float32)
        names.append("enters layer 1")
    vectors.append(output)
    return EmbeddingParts(names=tuple(names), vectors=np.stack(vectors), norm_module=norm_path,
                          max_abs_difference=float(np.abs(recomputed - output).max()))
