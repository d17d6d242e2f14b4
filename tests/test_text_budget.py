"""core.text.budget: token budgets of many texts, against independent tokenizer references."""

import random
import time

import numpy as np
import pytest

from core import gpt2_tokenizer
from core.errors import InputTextError
from core.text.budget import CorpusBudget, TextBudget, text_budgets
from core.text.tokenization import tokenize


@pytest.fixture(scope="module")
def wordpiece(bundled):
    return bundled.tokenizer, bundled.info.max_seq_length


def reference(tokenizer, text, max_length):
    """What the model sees, from plain tokenizer calls: (total tokens, kept tokens, cut offset or None)."""
    total = len(tokenizer.tokenize(text)) + tokenizer.num_special_tokens_to_add()
    kept = len(tokenizer(text, truncation=True, max_length=max_length)["input_ids"])
    full = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    content = max_length - tokenizer.num_special_tokens_to_add()
    cut = full["offset_mapping"][content][0] if total > max_length else None
    return total, kept, cut


def mixed_texts(n, seed=0):
    """Texts of every length around a 64-token window: mid-word cuts, punctuation, accents, emoji, CJK."""
    rng = random.Random(seed)
    pieces = ["the", "cat", "sat", "tokenization", "extraordinarily", "café", "naïve", "🙂", "日本語", "bank,", "(river)",
              "don't", "x", "42", "—", "co-operate", "   ", "\u200b"]
    return [" ".join(rng.choice(pieces) for _ in range(rng.randint(0, 90))) for _ in range(n)]


@pytest.mark.parametrize("which", ["wordpiece", "bpe"])
def test_every_text_matches_independent_references_and_tokenize(which, wordpiece):
    tokenizer = wordpiece[0] if which == "wordpiece" else gpt2_tokenizer()
    window = 64  # a small window so that about half of the texts are cut
    texts = mixed_texts(300, seed=1 if which == "bpe" else 0)
    budget = text_budgets(tokenizer, texts, window)
    assert isinstance(budget, CorpusBudget) and budget.max_length == window and len(budget.texts) == len(texts)
    assert 0.2 < budget.share_truncated < 0.8
    for text, item in zip(texts, budget.texts):
        total, kept, cut = reference(tokenizer, text, window)
        assert (item.n_tokens, item.kept_tokens, item.cut_at_char) == (total, kept, cut), text
        assert item.truncated == (total > window) and item.dropped_tokens == total - kept
        assert item.n_words == len(text.split())
        if text.strip("\u200b "):
            assert tokenize(tokenizer, text, window).truncation.cut_at_char == item.cut_at_char


@pytest.mark.parametrize("which", ["wordpiece", "bpe"])
def test_the_dropped_tail_is_the_untruncated_encodings_tail(which, wordpiece):
    tokenizer = wordpiece[0] if which == "wordpiece" else gpt2_tokenizer()
    window = 40
    text = " ".join(["river bank"] * 30) + " and the end of it"   # cuts fall at word starts
    item = text_budgets(tokenizer, [text], window).texts[0]
    full = tokenizer(text, add_special_tokens=False)["input_ids"]
    kept_content = window - tokenizer.num_special_tokens_to_add()
    assert item.dropped_tokens == len(full) - kept_content
    tail = tokenizer(text[item.cut_at_char:], add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(tail).strip() == tokenizer.decode(full[kept_content:]).strip()
    if which == "bpe":  # byte-level BPE is lossless: the tail decodes to the very characters
        assert tokenizer.decode(full[kept_content:]) == text[item.cut_at_char:]
    # and what is kept ends before the cut
    kept = tokenizer(text, add_special_tokens=False, truncation=True, max_length=kept_content,
                     return_offsets_mapping=True)["offset_mapping"]
    assert kept[-1][1] <= item.cut_at_char


def test_a_text_exactly_at_the_window_and_one_token_over(wordpiece):
    tokenizer, window = wordpiece
    assert window == 256
    at = " ".join(["cat"] * (window - 2))
    over = " ".join(["cat"] * (window - 1))
    fits, cut = text_budgets(tokenizer, [at, over], window).texts
    assert (fits.n_tokens, fits.kept_tokens, fits.truncated, fits.dropped_tokens, fits.cut_at_char) == (256, 256, False, 0, None)
    assert (cut.n_tokens, cut.kept_tokens, cut.truncated, cut.dropped_tokens) == (257, 256, True, 1)
    assert cut.cut_at_char == over.rindex("cat") == 4 * (window - 2)


def test_empty_ish_texts_cost_only_their_special_tokens(wordpiece):
    tokenizer, window = wordpiece
    items = text_budgets(tokenizer, ["", "   ", "\u200b", "word"], window).texts
    assert [i.n_tokens for i in items] == [2, 2, 2, 3]
    assert [i.n_words for i in items] == [0, 0, 1, 1]
    assert all(not i.truncated and i.cut_at_char is None for i in items)
    assert [i.tokens_per_word for i in items] == [0.0, 0.0, 0.0, 1.0]
    empty = text_budgets(gpt2_tokenizer(), [""], 64)
    assert empty.texts[0].n_tokens == 0 and empty.tokens_per_word == 0.0
    nothing = text_budgets(tokenizer, [], window)
    assert nothing.texts == () and nothing.share_truncated == 0.0 and nothing.tokens_per_word == 0.0


@pytest.mark.parametrize("which", ["wordpiece", "bpe"])
def test_a_prompt_that_pushes_a_text_over_the_window(which, wordpiece):
    tokenizer = wordpiece[0] if which == "wordpiece" else gpt2_tokenizer()
    window, prompt = 32, "Represent this sentence for searching relevant passages: "
    text = " ".join(["cat"] * (window - 2 - tokenizer.num_special_tokens_to_add()))
    alone = text_budgets(tokenizer, [text], window).texts[0]
    assert not alone.truncated
    pushed = text_budgets(tokenizer, [text], window, prompt=prompt).texts[0]
    reference_cut = tokenize(tokenizer, prompt + text, window).truncation
    assert pushed.truncated and pushed.n_tokens == reference_cut.total_tokens
    assert pushed.dropped_tokens == reference_cut.dropped_count
    assert pushed.cut_at_char == reference_cut.cut_at_char - len(prompt) and 0 < pushed.cut_at_char < len(text)
    assert text[pushed.cut_at_char:].startswith(("cat", " cat"))
    # The prompt's own tokens are not the text's: tokens per word is the text's alone.
    assert pushed.text_tokens == alone.text_tokens == len(tokenizer.tokenize(text))
    # A prompt that fills the window alone: the model sees none of the text.
    huge = text_budgets(tokenizer, ["a short text"], window, prompt=prompt * 10).texts[0]
    assert huge.truncated and huge.cut_at_char == 0


@pytest.mark.parametrize("which", ["wordpiece", "bpe"])
def test_a_200000_character_text_is_fast_and_exact(which, wordpiece):
    tokenizer, window = wordpiece if which == "wordpiece" else (gpt2_tokenizer(), 1024)
    text = ("The quick brown fox jumps over the lazy dog; " * 5000)[:200_000]
    start = time.perf_counter()
    item = text_budgets(tokenizer, [text, "short"], window).texts[0]
    assert time.perf_counter() - start < 15  # a few seconds even on a loaded 2-core machine
    truncation = tokenize(tokenizer, text, window).truncation
    assert item.truncated and item.n_tokens == truncation.total_tokens and item.kept_tokens == window
    assert item.dropped_tokens == truncation.dropped_count and item.cut_at_char == truncation.cut_at_char


def test_corpus_statistics(wordpiece):
    tokenizer, window = wordpiece
    texts = mixed_texts(120, seed=3) + [" ".join(["tokenization"] * 200)]
    budget = text_budgets(tokenizer, texts, 64)
    cut = [text for text in texts if len(tokenizer.tokenize(text)) + 2 > 64]
    assert budget.share_truncated == pytest.approx(len(cut) / len(texts))
    assert budget.tokens_per_word == pytest.approx(
        sum(len(tokenizer.tokenize(t)) for t in texts) / sum(len(t.split()) for t in texts))
    counts, edges = budget.histogram(bins=10)
    assert counts.sum() == len(texts) and len(edges) == 11
    assert edges[0] == min(i.n_tokens for i in budget.texts) and edges[-1] == max(i.n_tokens for i in budget.texts)
    item = budget.texts[-1]
    assert item.tokens_per_word == pytest.approx(len(tokenizer.tokenize(texts[-1])) / 200)
    with pytest.raises(InputTextError):
        text_budgets(tokenizer, "one string, not a list", window)
    with pytest.raises(InputTextError):
        text_budgets(tokenizer, ["fine", None], window)


def test_many_texts_in_chunks_match_one_by_one(wordpiece):
    tokenizer, window = wordpiece
    texts = mixed_texts(4_500, seed=4)   # more than one tokenizer chunk
    many = text_budgets(tokenizer, texts, 64)
    assert len(many.texts) == len(texts)
    for index in (0, 1999, 2000, 2001, 4499):
        assert many.texts[index] == text_budgets(tokenizer, [texts[index]], 64).texts[0]
    assert isinstance(many.texts[0], TextBudget)
    assert np.isfinite(many.tokens_per_word)
