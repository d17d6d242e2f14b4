"""How many tokens each of many texts needs, and which of them the model's window cuts (and where)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import InputTextError
from .vocabulary import words

# Texts per tokenizer call: big enough that the Rust tokenizer batches well, small enough that the
# Python lists transformers builds for one chunk stay small.
_CHUNK = 2_000


@dataclass(frozen=True)
class TextBudget:
    n_tokens: int            # tokens the whole text needs, special tokens (and the prompt, if given) included
    max_length: int          # the model's window
    kept_tokens: int         # min(n_tokens, max_length)
    cut_at_char: int | None  # character offset in the text (prompt NOT counted) where the part the model never sees starts; None if it fits
    n_words: int             # whitespace-separated words of the text
    # Tokens of n_tokens that are not the text's own: special tokens and the prompt's tokens.
    n_overhead: int = 0

    @property
    def truncated(self) -> bool:
        return self.n_tokens > self.max_length

    @property
    def dropped_tokens(self) -> int:
        return self.n_tokens - self.kept_tokens

    @property
    def text_tokens(self) -> int:
        """Tokens of the text itself (no special tokens, no prompt)."""
        return max(self.n_tokens - self.n_overhead, 0)

    @property
    def tokens_per_word(self) -> float:
        """Tokens of the text itself per whitespace-separated word (0.0 for a text without words)."""
        return self.text_tokens / self.n_words if self.n_words else 0.0


@dataclass(frozen=True)
class CorpusBudget:
    texts: tuple[TextBudget, ...]
    max_length: int

    @property
    def truncated_indices(self) -> tuple[int, ...]:
        """Positions (0-based) of the texts the window cuts."""
        return tuple(i for i, budget in enumerate(self.texts) if budget.truncated)

    @property
    def share_truncated(self) -> float:
        return len(self.truncated_indices) / len(self.texts) if self.texts else 0.0

    @property
    def tokens_per_word(self) -> float:
        """Total tokens (no special tokens, no prompt) / total words (0.0 without words)."""
        n_words = sum(budget.n_words for budget in self.texts)
        return sum(budget.text_tokens for budget in self.texts) / n_words if n_words else 0.0

    def histogram(self, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
        """Counts and bin edges of ``n_tokens`` over the texts (np.histogram)."""
        return np.histogram(np.asarray([budget.n_tokens for budget in self.texts], dtype=np.int64), bins=bins)


def _content_start(special, offsets, index: int) -> int | None:
    """Start offset of the ``index``-th (0-based) non-special token; None if there are fewer."""
    seen = 0
    for is_special, span in zip(special, offsets):
        if not is_special:
            if seen == index:
                return int(span[0])
            seen += 1
    return None


def _prompt_tokens(special, offsets, prompt_chars: int) -> int:
    """Non-special tokens that lie wholly inside the prompt (they come first)."""
    count = 0
    for is_special, span in zip(special, offsets):
        if is_special:
            continue
        if span[1] > prompt_chars:
            break
        count += 1
    return count


def text_budgets(tokenizer, texts: Sequence[str], max_length: int, *, prompt: str = "") -> CorpusBudget:
    """The token budget of every text as the model reads it (``prompt`` + text, special tokens added),
    against a window of ``max_length`` tokens. Exact: a text's ``cut_at_char`` is where
    ``core.text.tokenization.tokenize(tokenizer, prompt + text, max_length)`` cuts, minus len(prompt)
    (0 when the prompt alone fills the window)."""
    if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
        raise InputTextError("Expected a list of texts.")
    texts = list(texts)
    if not isinstance(prompt, str):
        raise InputTextError(f"Expected a prompt as text, got {type(prompt).__name__}.")
    max_length = int(max_length)
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    skip = len(prompt)
    out: list[TextBudget] = []
    for start in range(0, len(texts), _CHUNK):
        chunk = list(texts[start: start + _CHUNK])
        encoded = tokenizer([prompt + text for text in chunk], truncation=False, add_special_tokens=True,
                            return_offsets_mapping=True, return_special_tokens_mask=True, verbose=False)
        for text, special, offsets in zip(chunk, encoded["special_tokens_mask"], encoded["offset_mapping"]):
            n_tokens, n_special = len(special), sum(special)
            in_prompt = _prompt_tokens(special, offsets, skip) if skip else 0
            cut = None
            if n_tokens > max_length:
                # The window keeps every special token and the first (max_length - n_special) others.
                start_char = _content_start(special, offsets, max(max_length - n_special, 0))
                cut = len(text) if start_char is None else max(start_char - skip, 0)
            out.append(TextBudget(n_tokens=n_tokens, max_length=max_length, kept_tokens=min(n_tokens, max_length),
                                  cut_at_char=cut, n_words=len(words(text)), n_overhead=n_special + in_prompt))
    return CorpusBudget(texts=tuple(out), max_length=max_length)
