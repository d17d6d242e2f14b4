"""Why a passage ranked where it did: the query–passage score split exactly into token pairs.

Both texts are traced as the model reads them (with their prompts); the pooled score splits into
one share per (query token, passage token) pair (``core.analysis.similarity.pair_contributions``),
whose row sums say which query tokens carried the score and whose column sums say which passage
tokens did, merged into words for long passages. The same pooling applied to every layer's hidden
states shows where in the network the two texts came together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..analysis.similarity import pair_contributions
from ..models.explorer_model import ExplorerModel
from ..pipeline.pooling import pool
from ..pipeline.similarity import paired_similarity
from ..text.tokenization import TokenizedText
from ..text.vocabulary import words
from ..trace import trace_text
from .search import QueryEncoding

SPLIT_POOLINGS = ("mean", "mean_sqrt_len_tokens", "weightedmean", "max", "cls", "lasttoken")


@dataclass(frozen=True)
class WordShares:
    words: tuple[str, ...]        # whitespace words of the text, special tokens as their own entries
    shares: np.ndarray            # [words] sum of their tokens' shares
    token_word: np.ndarray        # [tokens] which word each token belongs to


@dataclass(frozen=True)
class PairExplanation:
    passage: int
    pooling: str
    score: float                  # what the split adds up to: the cosine of the two pooled vectors
    exact: bool                   # that cosine is the model's own score (no Dense layer after pooling, cosine)
    contributions: np.ndarray     # [query tokens, passage tokens]
    query_tokens: tuple[str, ...]
    passage_tokens: tuple[str, ...]
    query_shares: np.ndarray      # [query tokens] row sums
    passage_shares: np.ndarray    # [passage tokens] column sums
    passage_words: WordShares
    layer_similarity: np.ndarray  # [layers + 1] cosine of the pooled hidden states after each layer (0 = embeddings)
    passage_truncated_tokens: int  # tokens of the passage the model never saw


def word_shares(tokens: TokenizedText, shares: np.ndarray) -> WordShares:
    """Token shares added up per whitespace word (a word's pieces merged), special tokens apart."""
    text = tokens.text
    spans = words(text)
    starts = np.asarray([s for s, _ in spans], dtype=np.int64)
    labels: list[str] = []
    token_word = np.zeros(len(tokens), dtype=np.int64)
    index_of: dict[tuple, int] = {}
    for position, ((start, end), special) in enumerate(zip(tokens.offsets, tokens.special_mask)):
        if special or end <= start:
            key = ("special", position)
            label = tokens.tokens[position]
        else:
            word = int(np.searchsorted(starts, int(start), side="right") - 1)
            key = ("word", word)
            label = text[spans[word][0]:spans[word][1]] if word >= 0 else tokens.tokens[position]
        if key not in index_of:
            index_of[key] = len(labels)
            labels.append(label)
        token_word[position] = index_of[key]
    totals = np.zeros(len(labels))
    np.add.at(totals, token_word, np.asarray(shares, dtype=np.float64))
    return WordShares(tuple(labels), totals, token_word)


def _pooling_weights(tokens: TokenizedText, pooling: str, excluded: int) -> tuple[str, np.ndarray | None]:
    """The pair split's pooling, and 0/1 weights that leave an excluded prompt out of a mean."""
    if not excluded:
        return pooling, None
    if pooling in ("mean", "mean_sqrt_len_tokens"):
        weights = np.ones(len(tokens))
        weights[:excluded] = 0
        return "idf", weights
    if pooling == "weightedmean":
        weights = np.arange(1, len(tokens) + 1, dtype=np.float64)
        weights[:excluded] = 0
        return "idf", weights
    return pooling, None


def explain_pair(explorer: ExplorerModel, query: QueryEncoding, passage_text: str, document_prompt: str, *,
                 passage: int = -1, pooling: str | None = None) -> PairExplanation:
    """Split the query's score against one passage into token pairs, from traces of both texts."""
    pooling = pooling or explorer.pipeline.pooling_mode
    if pooling not in SPLIT_POOLINGS:
        raise ValueError(f"No token-pair split for pooling '{pooling}'.")
    query_trace = trace_text(explorer, query.text, prompt=query.prompt)
    passage_trace = trace_text(explorer, passage_text, prompt=document_prompt)
    include = explorer.pipeline.include_prompt
    q_pool, q_weights = _pooling_weights(query_trace.tokens, pooling, 0 if include else query_trace.prompt_length)
    p_pool, p_weights = _pooling_weights(passage_trace.tokens, pooling, 0 if include else passage_trace.prompt_length)
    exact_split = q_pool == p_pool and (q_weights is None) == (p_weights is None)
    if not exact_split:  # one side has a prompt left out, the other none: weigh both alike
        q_weights = np.ones(len(query_trace.tokens)) if q_weights is None else q_weights
        p_weights = np.ones(len(passage_trace.tokens)) if p_weights is None else p_weights
        q_pool = p_pool = "idf"
    split = pair_contributions(query_trace.last_hidden_state, passage_trace.last_hidden_state, q_pool,
                               tokens_a=query_trace.tokens.tokens, tokens_b=passage_trace.tokens.tokens,
                               weights_a=q_weights, weights_b=p_weights)
    passage_shares = split.contributions.sum(axis=0)

    def pooled_layers(trace):
        mask = torch.ones(trace.hidden_states.shape[0], trace.n_tokens, dtype=torch.long)
        excluded = 0 if include else trace.prompt_length
        return pool(pooling, np.array(trace.hidden_states), mask, prompt_length=excluded).numpy()

    layers = paired_similarity(pooled_layers(query_trace), pooled_layers(passage_trace), "cosine")
    exact = not explorer.pipeline.dense and explorer.info.similarity_fn_name == "cosine" and pooling == explorer.pipeline.pooling_mode
    return PairExplanation(
        passage=passage, pooling=pooling, score=split.cosine, exact=exact, contributions=split.contributions,
        query_tokens=query_trace.tokens.tokens, passage_tokens=passage_trace.tokens.tokens,
        query_shares=split.contributions.sum(axis=1), passage_shares=passage_shares,
        passage_words=word_shares(passage_trace.tokens, passage_shares), layer_similarity=layers,
        passage_truncated_tokens=passage_trace.tokens.truncation.dropped_count,
    )


def word_contributions(explanation: PairExplanation) -> np.ndarray:
    """[query tokens, passage words] the token-pair split with each passage word's tokens added up:
    row sums are still ``query_shares``, column sums ``passage_words.shares``."""
    merged = np.zeros((explanation.contributions.shape[0], len(explanation.passage_words.words)))
    np.add.at(merged, (slice(None), explanation.passage_words.token_word), explanation.contributions)
    return merged


def query_token_difference(top: PairExplanation, expected: PairExplanation) -> np.ndarray:
    """[query tokens] how much more each query token gave the top passage than the expected one."""
    return top.query_shares - expected.query_shares
