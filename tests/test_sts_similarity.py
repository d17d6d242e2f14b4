"""STS evaluation, IDF weights and the token-pair split of cosine similarity."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr
from sentence_transformers import SentenceTransformer

from core import trace_text
from core.text.idf import idf_weights
from core.analysis.similarity import cosine_matrix, occurrence_cosines, pair_contributions, repeated_tokens
from core.embed.sts import StsFormatError, evaluate_sts, read_sts

ROOT = Path(__file__).resolve().parent.parent
STSB = ROOT / "assets" / "stsb"


def test_dev_split_native_pooling(bundled):
    # Computed once on 2026-11-26 with this project's evaluate_sts on assets/stsb/stsb-en-dev.csv
    # (1,500 pairs) and the bundled all-MiniLM-L6-v2 (revision 1110a243…, mean pooling,
    # normalised): 86.72. Independently re-derived below from SentenceTransformer.encode.
    pairs = read_sts(STSB / "stsb-en-dev.csv")
    result = evaluate_sts(bundled, pairs, ["mean"])
    assert len(pairs) == 1500
    assert round(result.spearman["mean"], 2) == 86.72
    model = SentenceTransformer(bundled.source_dir, device="cpu")
    a = model.encode(list(pairs.sentence1), normalize_embeddings=True)
    b = model.encode(list(pairs.sentence2), normalize_embeddings=True)
    reference = spearmanr(np.sum(a * b, axis=1), pairs.scores).statistic * 100
    assert abs(reference - result.spearman["mean"]) < 0.01


def test_cli_reproduces_the_published_test_split_score():
    # all-MiniLM-L6-v2 on STS-B test, cosine Spearman: 82.03 (MTEB STSBenchmark, the model card's evaluation).
    result = subprocess.run(
        [sys.executable, "-m", "core", "sts-eval", str(STSB / "stsb-en-test.csv"), "--pooling", "mean", "--device", "cpu"],
        cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "mean\t82.03  (native)"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"sentence1,sentence2,score\na,b,1\n", "Line 1: the score 'score' is not a number (the file must have no header"),
        (b"a,b,1\nc,d\n", "Line 2: expected 3 columns"),
        (b"a,b,1\nc,d,7.5\n", "Line 2: the score 7.5 is outside 0"),
        (b"a,b,1\nc,,2\n", "Line 2: a sentence is empty"),
        (b"a,b,1\n\xff\xfe bad,x,2\n", "line 2: not valid UTF-8"),
        (b"\x00\x01\x02binary", "binary"),
        (b"a,b,1\n", "at least 2 pairs"),
    ],
)
def test_malformed_sts_files_name_the_problem(content, message):
    with pytest.raises(StsFormatError, match=message.replace("(", r"\(")):
        read_sts(content)


def test_quoted_commas_are_fine():
    pairs = read_sts(b'"Hello, world",Hi,4.5\nA,B,0\n')
    assert pairs.sentence1[0] == "Hello, world" and pairs.scores.tolist() == [4.5, 0.0]


def test_idf_weights(bundled):
    corpus = ["the cat sat", "the dog ran", "the cat ran"]
    weights = idf_weights(bundled.tokenizer, corpus)
    ids = {w: bundled.tokenizer.convert_tokens_to_ids(w) for w in ("the", "cat", "dog", "zebra")}
    n = 3
    assert weights[ids["the"]] == pytest.approx(np.log((1 + n) / (1 + 3)) + 1)
    assert weights[ids["cat"]] == pytest.approx(np.log((1 + n) / (1 + 2)) + 1)
    assert weights[ids["dog"]] == pytest.approx(np.log((1 + n) / (1 + 1)) + 1)
    assert weights[ids["zebra"]] == pytest.approx(np.log(1 + n) + 1)
    assert weights[bundled.tokenizer.cls_token_id] == 0 and weights[bundled.tokenizer.sep_token_id] == 0


@pytest.mark.parametrize("pooling", ["mean", "max", "cls", "weightedmean", "idf", "lasttoken"])
def test_token_pair_contributions_sum_to_the_cosine(bundled, pooling):
    a = trace_text(bundled, "The cat sat on the mat")
    b = trace_text(bundled, "A feline rested on the rug")
    weights = idf_weights(bundled.tokenizer, [a.text, b.text, "Python is a programming language"])
    split = pair_contributions(
        a.last_hidden_state, b.last_hidden_state, pooling, tokens_a=a.tokens.tokens, tokens_b=b.tokens.tokens,
        weights_a=weights[a.tokens.input_ids], weights_b=weights[b.tokens.input_ids],
    )
    assert split.contributions.shape == (len(a.tokens), len(b.tokens))
    assert abs(split.contributions.sum() - split.cosine) < 1e-5
    # …and the cosine is the one of the pooled vectors the trace reports.
    if pooling == "idf":
        ta = trace_text(bundled, a.text, token_weights=weights[a.tokens.input_ids])
        tb = trace_text(bundled, b.text, token_weights=weights[b.tokens.input_ids])
        expected = cosine_matrix(ta.pooled["idf"][None], tb.pooled["idf"][None])[0, 0]
    else:
        expected = cosine_matrix(a.pooled[pooling][None], b.pooled[pooling][None])[0, 0]
    assert abs(split.cosine - expected) < 1e-5
    if pooling == "mean":
        assert abs(split.cosine - 0.564) < 0.005


def test_same_token_in_different_sentences_per_layer(bundled):
    lines = ["I sat on the bank of the river.", "The bank approved my loan.", "the bank, the bank"]
    traces = [trace_text(bundled, line) for line in lines]
    repeated = repeated_tokens([t.tokens.tokens for t in traces], [t.tokens.special_mask for t in traces])
    assert "[CLS]" not in repeated and "river" not in repeated and set(repeated) >= {"bank", "the"}
    assert repeated["bank"] == [(0, 5), (1, 2), (2, 2), (2, 5)]
    pairs = occurrence_cosines([t.hidden_states for t in traces], repeated["bank"], "bank")
    assert [(p.first, p.second) for p in pairs] == [((0, 5), (1, 2)), ((0, 5), (2, 2)), ((0, 5), (2, 5)),
                                                   ((1, 2), (2, 2)), ((1, 2), (2, 5))]  # never within one sentence
    for pair in pairs:
        a = traces[pair.first[0]].hidden_states[:, pair.first[1]]
        b = traces[pair.second[0]].hidden_states[:, pair.second[1]]
        for layer in (0, len(traces[0].layers)):
            expected = float(torch_cosine(a[layer], b[layer]))
            assert pair.cosines[layer] == pytest.approx(expected, abs=1e-5)
    assert pairs[3].cosines[0] == pytest.approx(1.0, abs=1e-5)  # same row, same position: identical at layer 0
    assert len(occurrence_cosines([t.hidden_states for t in traces], repeated["bank"], max_pairs=2)) == 2


def torch_cosine(a, b):
    import torch

    return torch.nn.functional.cosine_similarity(torch.tensor(a), torch.tensor(b), dim=0)
