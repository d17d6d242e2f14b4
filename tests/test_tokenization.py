"""Tokenizers against known ids, and truncation that is never silent."""

import json

import numpy as np
import pytest

from core import InputTextError, gpt2_tokenizer, tokenize, trace_text
from core.models.bundled import gpt2_bpe_files


def test_wordpiece_of_the_article_sentence(bundled):
    tokens = tokenize(bundled.tokenizer, "The cat sat unhappily", 256)
    assert tokens.input_ids.tolist() == [101, 1996, 4937, 2938, 4895, 3270, 9397, 6588, 102]
    assert tokens.tokens == ("[CLS]", "the", "cat", "sat", "un", "##ha", "##pp", "##ily", "[SEP]")
    assert tokens.special_mask.tolist() == [True] + [False] * 7 + [True]
    assert tokens.word_ids.tolist() == [-1, 0, 1, 2, 3, 3, 3, 3, -1]
    assert tokens.source_text(5) == "ha" and tokens.source_text(1) == "The"
    assert tokens.word_count == 4 and not tokens.truncation.truncated


@pytest.mark.parametrize(
    "text, ids",
    [
        ("Hello world", [15496, 995]),
        ("The quick brown fox jumps over the lazy dog", [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290]),
    ],
)
def test_gpt2_bpe_gives_gpt2_ids(text, ids):
    assert gpt2_tokenizer()(text)["input_ids"] == ids


def test_gpt2_bpe_matches_its_vocabulary_file_and_round_trips():
    encoder_json, _ = gpt2_bpe_files()
    vocab = json.loads(encoder_json.read_text(encoding="utf-8"))
    tokenizer = gpt2_tokenizer()
    text = "Tokenizers split unhappily — naïve café 👋 你好"
    tokens = tokenize(tokenizer, text, 1024)
    assert [vocab[t] for t in tokens.tokens] == tokens.input_ids.tolist()
    assert tokenizer.decode(tokens.input_ids.tolist()) == text
    assert len(tokenizer) == 50257


def test_a_2000_word_text_reports_its_truncation(bundled):
    words = [f"word{i % 50}" for i in range(2000)]
    text = " ".join(words)
    tokens = tokenize(bundled.tokenizer, text, bundled.info.max_seq_length)
    cut = tokens.truncation
    full = bundled.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    assert len(tokens) == 256 == cut.kept_tokens == cut.max_length
    assert cut.total_tokens == len(full) + 2
    assert cut.dropped_count == len(full) - 254 > 0
    assert list(cut.dropped_ids) == full[254:]
    assert tokens.input_ids[1:-1].tolist() == full[:254]  # what was kept is the head, in order
    assert text[cut.cut_at_char :].startswith(bundled.tokenizer.decode(full[254:256]).split()[0][:4])
    trace = trace_text(bundled, text)
    assert trace.hidden_states.shape[1] == 256 and trace.tokens.truncation.dropped_count == cut.dropped_count


@pytest.mark.parametrize("bad", ["", "   \n\t ", "\u200b\u200b", None, 42, b"bytes"])
def test_bad_text_is_refused_clearly(bundled, bad):
    with pytest.raises(InputTextError) as error:
        trace_text(bundled, bad)
    assert str(error.value)


def test_only_control_characters_is_refused(bundled):
    with pytest.raises(InputTextError, match="invisible"):
        trace_text(bundled, "\x01\x02\x07")


def test_odd_unicode_traces(bundled):
    for text in ["👨‍👩‍👧‍👦 family", "مرحبا שלום", "我爱自然语言处理", "zero\u200bwidth", "<img src=x onerror=alert(1)>"]:
        trace = trace_text(bundled, text)
        assert np.isfinite(trace.native_embedding).all()
        assert len(trace.tokens.offsets) == len(trace.tokens)
