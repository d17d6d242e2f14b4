"""IDF token weights from a corpus, for the IDF-weighted mean pooling.

idf(t) = ln((1 + N) / (1 + df(t))) + 1, the smoothed form scikit-learn uses, with N the number
of documents and df(t) how many contain token t. Special tokens ([CLS], [SEP], padding) weigh 0:
they occur in every text and carry no content of their own. Tokens never seen in the corpus get
the weight of a token seen in no document (the largest).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InputTextError


def idf_weights(tokenizer, corpus: Sequence[str], max_length: int = 512) -> np.ndarray:
    """A vocabulary-sized weight vector: ``weights[token_id]``."""
    texts = [t for t in corpus if isinstance(t, str) and t.strip()]
    if not texts:
        raise InputTextError("The IDF corpus is empty: give at least one sentence.")
    vocab_size = max(len(tokenizer), max(tokenizer.get_vocab().values()) + 1)
    document_frequency = np.zeros(vocab_size, dtype=np.int64)
    encoded = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
    for ids in encoded:
        document_frequency[np.unique(np.asarray(ids, dtype=np.int64))] += 1
    n = len(texts)
    weights = (np.log((1.0 + n) / (1.0 + document_frequency)) + 1.0).astype(np.float32)
    special = [i for i in tokenizer.all_special_ids if 0 <= i < vocab_size]
    weights[special] = 0.0
    return weights
