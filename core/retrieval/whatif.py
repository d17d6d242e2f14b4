"""What would change the expected passage's rank: each edit re-ranks the whole corpus.

Query side (the corpus stays as embedded): remove one query token, the prompt on or off, every
pooling, fewer dimensions, int8 and binary vectors. Passage side: remove one word of the passage
(only that passage is embedded again). Every score is a fresh encode of the edited text, or a
recomputation on the edited vectors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..embed.embedding import embed_texts
from ..models.explorer_model import ExplorerModel
from ..pipeline.pooling import POOLING_LABELS
from ..text.vocabulary import words
from .search import CorpusIndex, QueryEncoding, rank, rank_units, retrieval_prompts, unit_scores

DIMENSION_CUTS = (256, 128, 64)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class WhatIf:
    group: str          # "query token", "prompt", "pooling", "dimensions", "quantisation", "passage word"
    label: str          # e.g. "without ‘cat’", "max pooling", "128 dimensions"
    edited_text: str    # the text that was embedded ("" when only the vectors changed)
    score: float        # the expected passage's score after the change
    rank: int           # its rank after the change (1 = top)
    score_change: float
    rank_change: int    # > 0: it moved up


@dataclass(frozen=True)
class WhatIfReport:
    expected: int
    score: float        # as ranked now
    rank: int
    items: tuple[WhatIf, ...]
    notes: tuple[str, ...]   # what could not be tried, and why

    def group(self, name: str) -> list[WhatIf]:
        return [item for item in self.items if item.group == name]


def _without(text: str, start: int, end: int) -> str:
    return _SPACES.sub(" ", text[:start] + " " + text[end:]).strip()


def _item(group, label, edited, ranking, expected, base_score, base_rank) -> WhatIf:
    score, position = float(ranking.scores[expected]), ranking.rank_of(expected)
    return WhatIf(group, label, edited, score, position, score - base_score, base_rank - position)


def query_what_ifs(explorer: ExplorerModel, index: CorpusIndex, query: QueryEncoding, expected: int) -> WhatIfReport:
    """Every query-side edit, each re-ranking the whole corpus (the corpus is not embedded again)."""
    base = rank(index, query)
    base_score, base_rank = float(base.scores[expected]), base.rank_of(expected)
    items, notes = [], []
    native = index.native_pooling

    def ranked(vector, **options):
        return rank_units(unit_scores(vector, index.vectors[native], index.similarity_fn_name, **options),
                          index.corpus, index.similarity_fn_name)

    # one query token removed at a time (by its characters in the query), all variants in one batch
    tokens = explorer.tokenize(query.text)
    spans = [(i, int(s), int(e)) for i, ((s, e), special) in enumerate(zip(tokens.offsets, tokens.special_mask))
             if not special and e > s]
    variants = [(i, _without(query.text, s, e)) for i, s, e in spans]
    variants = [(i, text) for i, text in variants if text]
    if variants:
        vectors = embed_texts(explorer, [text for _, text in variants], prompt=query.prompt)
        for (position, text), vector in zip(variants, vectors):
            items.append(_item("query token", f"without ‘{tokens.tokens[position]}’ (token {position})", text,
                               ranked(vector), expected, base_score, base_rank))
    else:
        notes.append("The query has a single token: there is nothing to remove.")

    # the prompt on / off
    model_prompt = retrieval_prompts(explorer)[0]
    other_prompt = "" if query.prompt else model_prompt
    if query.prompt or model_prompt:
        vector = embed_texts(explorer, [query.text], prompt=other_prompt)[0]
        label = "without the query prompt" if query.prompt else f"with the model's query prompt ‘{model_prompt}’"
        items.append(_item("prompt", label, other_prompt + query.text, ranked(vector), expected, base_score, base_rank))
    else:
        notes.append("This model defines no query prompt, and none is set: type one to try it.")

    # every pooling, on both sides (the corpus was pooled every way when it was embedded)
    for pooling in index.vectors:
        if pooling != native:
            items.append(_item("pooling", f"{POOLING_LABELS.get(pooling, pooling)} pooling", "",
                               rank(index, query, pooling=pooling), expected, base_score, base_rank))

    # fewer dimensions, then int8 and binary vectors
    size = index.vectors[native].shape[1]
    for dims in DIMENSION_CUTS:
        if dims < size:
            items.append(_item("dimensions", f"first {dims} of {size} dimensions, renormalised", "",
                               rank(index, query, dims=dims), expected, base_score, base_rank))
    for quantization, label in (("int8", "int8 vectors (255 steps per dimension)"), ("binary", "binary vectors (1 bit per dimension)")):
        items.append(_item("quantisation", label, "", rank(index, query, quantization=quantization), expected,
                           base_score, base_rank))
    return WhatIfReport(expected, base_score, base_rank, tuple(items), tuple(notes))


def passage_what_ifs(explorer: ExplorerModel, index: CorpusIndex, query: QueryEncoding, passage: int,
                     max_words: int = 80) -> WhatIfReport:
    """Remove one word of the passage (of the unit that gives it its score) at a time: that passage
    alone is embedded again, every other keeps its score."""
    base = rank(index, query)
    base_score, base_rank = float(base.scores[passage]), base.rank_of(passage)
    native = index.native_pooling
    unit_index = int(base.best_unit[passage])
    unit = index.corpus.units[unit_index]
    spans = words(unit.text)
    notes = []
    if len(spans) > max_words:
        notes.append(f"Only the first {max_words} of the passage's {len(spans)} words are tried.")
        spans = spans[:max_words]
    variants = [(unit.text[s:e], _without(unit.text, s, e)) for s, e in spans]
    variants = [(word, text) for word, text in variants if text]
    scores = unit_scores(query.vectors[native], index.vectors[native], index.similarity_fn_name)
    items = []
    if variants:
        vectors = embed_texts(explorer, [text for _, text in variants], prompt=index.document_prompt)
        new_scores = unit_scores(query.vectors[native], vectors, index.similarity_fn_name)
        for (word, text), new_score in zip(variants, new_scores):
            edited = scores.copy()
            edited[unit_index] = new_score
            ranking = rank_units(edited, index.corpus, index.similarity_fn_name)
            items.append(_item("passage word", f"without ‘{word}’", text, ranking, passage, base_score, base_rank))
    else:
        notes.append("The passage has a single word: there is nothing to remove.")
    return WhatIfReport(passage, base_score, base_rank, tuple(items), tuple(notes))
