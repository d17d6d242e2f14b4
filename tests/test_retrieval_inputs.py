"""What the retrieval page reads from uploads (JSON Lines in read_table, a text column of a table) and
the pair split merged into passage words."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from core.retrieval.corpus import passages_from_table
from core.text.datasets import DatasetError, read_table


def test_json_lines_are_read_as_rows():
    content = b'{"text": "the cat sat", "n": 1}\n\n{"text": "a dog ran", "n": 2, "extra": [1]}\n"a bare string"\n'
    frame = read_table(content, "corpus.jsonl")
    assert list(frame.columns) == ["text", "n", "extra"]
    assert list(frame["text"]) == ["the cat sat", "a dog ran", "a bare string"]  # a non-object line is a row of 'text'
    assert read_table(b'{"text": "x"}\n', "c.ndjson")["text"].tolist() == ["x"]
    with pytest.raises(DatasetError, match="line 2: not valid JSON"):
        read_table(b'{"text": "a"}\n{broken\n', "bad.jsonl")
    with pytest.raises(DatasetError, match="binary"):
        read_table(b'{"text": "a"}\x00\n', "bin.jsonl")
    with pytest.raises(DatasetError, match="no rows"):
        read_table(b"\n \n", "blank.jsonl")
    with pytest.raises(DatasetError, match="more than 3 rows"):
        read_table(b"".join(b'{"text": "t%d"}\n' % i for i in range(10)), "big.jsonl", max_rows=3)


def test_a_text_column_is_read_whole_and_other_columns_are_refused():
    long = "word " * 30_000
    frame = pd.DataFrame({"text": ["  first  ", "", long, None], "n": [1, 2, 3, 4]})
    texts, dropped = passages_from_table(frame, "text")
    assert texts == ["first", long.strip()] and dropped == 2  # nothing shortened, blanks and missing dropped
    with pytest.raises(DatasetError, match="'n' is not text: 4 of its 4 values are int"):
        passages_from_table(frame, "n")
    with pytest.raises(DatasetError, match="holds only numbers"):
        passages_from_table(read_table(b"id,text\n1,a\n2.5,b\n", "t.csv"), "id")
    nested = read_table(b'{"meta": {"a": 1}, "text": "x"}\n{"meta": {"b": 2}, "text": "y"}\n', "n.jsonl")
    with pytest.raises(DatasetError, match="is not text: 2 of its 2 values are dict"):
        passages_from_table(nested, "meta")
    buffer = io.BytesIO()
    pd.DataFrame({"blob": [b"\x00\x01", b"\x02"], "text": ["a", "b"]}).to_parquet(buffer)
    with pytest.raises(DatasetError, match="values are bytes"):
        passages_from_table(read_table(buffer.getvalue(), "b.parquet"), "blob")
    with pytest.raises(DatasetError, match="is empty"):
        passages_from_table(pd.DataFrame({"text": [" ", ""]}), "text")
    with pytest.raises(DatasetError, match="no column"):
        passages_from_table(frame, "missing")


def test_word_contributions_add_up_to_the_token_and_word_shares(bundled):
    from core.retrieval.explain import explain_pair, word_contributions
    from core.retrieval.search import encode_query

    query = encode_query(bundled, "Where did the kitten sleep?")
    split = explain_pair(bundled, query, "A feline rested on the unbelievably soft rug.", "")
    merged = word_contributions(split)
    assert merged.shape == (len(split.query_tokens), len(split.passage_words.words))
    assert np.allclose(merged.sum(axis=1), split.query_shares, atol=1e-9)
    assert np.allclose(merged.sum(axis=0), split.passage_words.shares, atol=1e-9)
    assert merged.sum() == pytest.approx(split.score, abs=1e-5)
    assert "unbelievably" in split.passage_words.words  # one column per word, its pieces merged
