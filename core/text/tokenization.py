"""Text → tokens, ids, character spans and word ids, with truncation made explicit.

Nothing is cut silently: every tokenization reports how many tokens the model's
max_seq_length kept, how many it dropped, and which.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..models.bundled import gpt2_bpe_files
from ..errors import InputTextError

# Far above any model's window (the longest models here read 8k tokens), low enough that a
# pasted book cannot make one request tokenize for seconds.
MAX_TEXT_CHARS = 200_000
_SPACE_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Truncation:
    max_length: int            # the model's window, special tokens included
    total_tokens: int          # tokens the whole text would need, special tokens included
    kept_tokens: int           # tokens that enter the model
    dropped_tokens: tuple[str, ...]
    dropped_ids: tuple[int, ...]
    cut_at_char: int | None    # character offset where the dropped tail starts (None: nothing dropped)

    @property
    def dropped_count(self) -> int:
        return len(self.dropped_ids)

    @property
    def truncated(self) -> bool:
        return self.dropped_count > 0


@dataclass(frozen=True)
class TokenizedText:
    text: str
    tokens: tuple[str, ...]          # as the vocabulary spells them (##ing, Ġworld, [CLS])
    input_ids: np.ndarray            # [T] int64
    offsets: np.ndarray              # [T, 2] character span in ``text`` ((0, 0) for special tokens)
    special_mask: np.ndarray         # [T] bool, True for [CLS], [SEP], <|endoftext|> …
    word_ids: np.ndarray             # [T] int, -1 for special tokens
    token_type_ids: np.ndarray       # [T] int (all 0 for a single sentence)
    truncation: Truncation

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def word_count(self) -> int:
        """Pre-tokenizer pieces: words with punctuation split off ("mat," is two), as ``word_ids`` counts them."""
        ids = self.word_ids[self.word_ids >= 0]
        return int(ids.max()) + 1 if ids.size else 0

    @property
    def space_word_count(self) -> int:
        """Space-separated words ("mat," is one) that start in the part of the text the tokens cover: the
        same "word" the tokenization page's two-tokenizer comparison counts."""
        ends = self.offsets[~self.special_mask, 1] if len(self.tokens) else np.zeros(0)
        covered = int(ends.max()) if ends.size else 0
        return sum(1 for match in _SPACE_WORD.finditer(self.text) if match.start() < covered)

    def source_text(self, index: int) -> str:
        start, end = self.offsets[index]
        return self.text[start:end]


def validate_text(text) -> str:
    if not isinstance(text, str):
        raise InputTextError(f"Expected text, got {type(text).__name__}.")
    if not text.strip():
        raise InputTextError("The text is empty: type a sentence to trace.")
    if all(unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp") for ch in text):
        raise InputTextError(
            "The text has only invisible characters (control, zero-width or space characters): "
            "type some visible text to trace."
        )
    if len(text) > MAX_TEXT_CHARS:
        raise InputTextError(
            f"The text has {len(text):,} characters; the explorer takes at most {MAX_TEXT_CHARS:,}. "
            "The model only reads its first few hundred tokens anyway: paste a shorter passage."
        )
    return text


def tokenize(tokenizer, text: str, max_length: int) -> TokenizedText:
    """Tokenize ``text`` as the model will see it, reporting what ``max_length`` cuts off."""
    text = validate_text(text)
    encoded = tokenizer(
        text,
        add_special_tokens=True,
        truncation=True,
        max_length=max_length,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        return_token_type_ids=True,
        verbose=False,
    )
    if len(encoded["input_ids"]) >= max_length:
        # The window is full: tokenize the whole text (no special tokens) to know what was dropped.
        full = tokenizer(text, add_special_tokens=False, truncation=False, verbose=False, return_offsets_mapping=True)
    else:
        full = None
    input_ids = np.asarray(encoded["input_ids"], dtype=np.int64)
    special = np.asarray(encoded["special_tokens_mask"], dtype=bool)
    if input_ids.size == 0 or not (~special).any():
        raise InputTextError(
            "The tokenizer found nothing to read in this text (it drops control and zero-width "
            "characters): type some visible characters."
        )
    kept_content = int((~special).sum())
    content_ids = list(full["input_ids"]) if full is not None else []
    dropped_ids = tuple(int(i) for i in content_ids[kept_content:])
    cut_at = int(full["offset_mapping"][kept_content][0]) if dropped_ids else None
    n_special = int(special.sum())
    truncation = Truncation(
        max_length=int(max_length),
        total_tokens=kept_content + len(dropped_ids) + n_special,
        kept_tokens=int(input_ids.size),
        dropped_tokens=tuple(tokenizer.convert_ids_to_tokens(list(dropped_ids))),
        dropped_ids=dropped_ids,
        cut_at_char=cut_at,
    )
    word_ids = np.asarray([-1 if w is None else w for w in encoded.word_ids()], dtype=np.int64)
    token_types = encoded.get("token_type_ids") or [0] * input_ids.size
    return TokenizedText(
        text=text,
        tokens=tuple(tokenizer.convert_ids_to_tokens(input_ids.tolist())),
        input_ids=input_ids,
        offsets=np.asarray(encoded["offset_mapping"], dtype=np.int64).reshape(-1, 2),
        special_mask=special,
        word_ids=word_ids,
        token_type_ids=np.asarray(token_types, dtype=np.int64),
        truncation=truncation,
    )


@lru_cache(maxsize=1)
def gpt2_tokenizer():
    """GPT-2's byte-level BPE (50,257 tokens), built offline from the bundled files."""
    from transformers import GPT2TokenizerFast

    encoder_json, vocab_bpe = gpt2_bpe_files()
    vocab = json.loads(encoder_json.read_text(encoding="utf-8"))
    lines = vocab_bpe.read_text(encoding="utf-8").split("\n")
    # First line is a version header; the rest are "left right" merge rules in rank order.
    merges = [tuple(line.split(" ")) for line in lines[1:] if line.strip()]
    # transformers 5 takes vocab=/merges=; the old vocab_file=/merges_file= silently build an empty tokenizer.
    tokenizer = GPT2TokenizerFast(vocab=vocab, merges=merges, model_max_length=1024)
    return tokenizer


def tokenizer_algorithm(tokenizer) -> str:
    """'WordPiece', 'BPE' (byte-level or not) or 'Unigram', read from the fast tokenizer's model."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    kind = type(backend.model).__name__ if backend is not None else type(tokenizer).__name__
    if kind == "BPE":
        pre = json.loads(backend.to_str()).get("pre_tokenizer") or {}
        text = json.dumps(pre)
        return "byte-level BPE" if "ByteLevel" in text else "BPE"
    return kind
