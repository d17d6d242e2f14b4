"""Every (non-special) token of a few sentences at one layer, projected with one PCA: a word's meanings as positions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..embed.projection import pca

MIN_POINTS = 3   # a 2-D PCA of fewer points says nothing


@dataclass(frozen=True)
class TokenView:
    points: np.ndarray            # [N, 2] PCA of the tokens' hidden states (empty when N < MIN_POINTS)
    tokens: tuple[str, ...]       # [N] each point's token string
    sentences: tuple[int, ...]    # [N] each point's sentence number (the key it came under)

    @property
    def count(self) -> int:
        return len(self.tokens)


def token_view(hidden_of: Mapping[int, np.ndarray], tokens_of: Mapping[int, Sequence[str]],
               special_of: Mapping[int, Sequence[bool]], layer: int) -> TokenView:
    """``hidden_of[s]`` is sentence s's [layers + 1, T, d] hidden states; special tokens are left out.

    Sentences are taken in the mapping's order, tokens in text order."""
    vectors, tokens, sentences = [], [], []
    for number, hidden in hidden_of.items():
        for position, token in enumerate(tokens_of[number]):
            if not special_of[number][position]:
                vectors.append(hidden[layer][position])
                tokens.append(token)
                sentences.append(number)
    points = pca(np.stack(vectors), 2) if len(vectors) >= MIN_POINTS else np.zeros((0, 2), dtype=np.float32)
    return TokenView(points, tuple(tokens), tuple(sentences))
