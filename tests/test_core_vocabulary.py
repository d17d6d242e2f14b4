"""core.vocabulary against independent references: brute-force cosine over the model's own
weights, the tokenizers' own conversions, and re-tokenizing every chunk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import InputTextError, gpt2_tokenizer, trace_text
from core.text.vocabulary import (
    chunk_document,
    embedding_parts,
    id_to_token,
    nearest_rows,
    row_norms,
    special_tokens,
    split_by_words,
    token_to_id,
    vocabulary_size,
)

from .hostile import HOSTILE_TEXTS
from .tiny_models import build_tiny

LONG_DOCUMENT = " ".join(
    f"Section {i}: the reconciliation report lists chargebacks, idempotency keys and webhook signatures (x-signature-sha256)."
    for i in range(60)
)


def test_nearest_rows_match_brute_force_cosine(bundled):
    weights = bundled.torch_module.embeddings.word_embeddings.weight.detach()
    table = bundled.weights("word_embeddings")
    norms = row_norms(table)
    for token in ("cat", "##ing", "[CLS]"):
        token_id = bundled.tokenizer.convert_tokens_to_ids(token)
        scores = torch.nn.functional.cosine_similarity(weights, weights[token_id][None], dim=-1)
        scores[token_id] = -2
        expected = torch.topk(scores, 10)
        found = nearest_rows(table, token_id, 10, norms=norms)
        assert [n.id for n in found] == expected.indices.tolist()
        np.testing.assert_allclose([n.cosine for n in found], expected.values.numpy(), atol=1e-5)
        assert token_id not in [n.id for n in found]
        assert all(a.cosine >= b.cosine for a, b in zip(found, found[1:]))


def test_the_trained_dictionary_puts_cats_next_to_cat(bundled):
    cat = bundled.tokenizer.convert_tokens_to_ids("cat")
    nearest = nearest_rows(bundled.weights("word_embeddings"), cat, 3)
    assert bundled.tokenizer.convert_ids_to_tokens(nearest[0].id) == "cats"
    with_self = nearest_rows(bundled.weights("word_embeddings"), cat, 1, exclude_self=False)
    assert with_self[0].id == cat and with_self[0].cosine == pytest.approx(1.0, abs=1e-6)


def test_nearest_rows_refuses_an_id_outside_the_table(bundled):
    with pytest.raises(InputTextError):
        nearest_rows(bundled.weights("word_embeddings"), 30522)


def test_lookups_both_ways(bundled):
    tokenizer = bundled.tokenizer
    assert vocabulary_size(tokenizer) == 30522
    for token_id in (0, 101, 4937, 6588, 30521):
        token = id_to_token(tokenizer, token_id)
        assert token == tokenizer.convert_ids_to_tokens(token_id)
        assert token_to_id(tokenizer, token).id == token_id
    assert id_to_token(tokenizer, "4937") == "cat"
    for bad in (-1, 30522, 3.5, "x", None):
        with pytest.raises(InputTextError):
            id_to_token(tokenizer, bad)
    missing = token_to_id(tokenizer, "unhappily")
    assert missing.id is None
    assert missing.pieces == ("un", "##ha", "##pp", "##ily") and missing.piece_ids == (4895, 3270, 9397, 6588)
    assert token_to_id(gpt2_tokenizer(), "Ġworld").id == 995
    with pytest.raises(InputTextError):
        token_to_id(tokenizer, "")


def test_special_tokens(bundled):
    found = {(s.token, s.id) for s in special_tokens(bundled.tokenizer)}
    assert found == {("[PAD]", 0), ("[UNK]", 100), ("[CLS]", 101), ("[SEP]", 102), ("[MASK]", 103)}
    gpt2 = special_tokens(gpt2_tokenizer())
    assert [(s.token, s.id) for s in gpt2] == [("<|endoftext|>", 50256)]
    assert "bos_token" in gpt2[0].role and "eos_token" in gpt2[0].role


@pytest.mark.parametrize("name", ["model", "gpt2"])
def test_split_by_words_accounts_for_every_token(bundled, name):
    tokenizer = bundled.tokenizer if name == "model" else gpt2_tokenizer()
    text = "The cat sat unhappily, and  Transformers tokenize surprisingly well!"
    split = split_by_words(tokenizer, text)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    # every token belongs to its word, except a token of spaces only (GPT-2 spells the double space as 'Ġ')
    expected = [t for t, (a, b) in zip(tokens, encoded["offset_mapping"]) if text[a:b].strip()]
    assert len(expected) == len(tokens) - (name == "gpt2")
    assert [p for pieces in split.pieces for p in pieces] == expected
    assert split.n_words == len(text.split()) == 9
    assert split.n_tokens == len(tokens)
    assert split.tokens_per_word == pytest.approx(len(tokens) / 9)
    words = [text[a:b] for a, b in split.word_spans]
    assert words[3] == "unhappily,"


def test_split_by_words_knows_the_real_wordpiece_split(bundled):
    split = split_by_words(bundled.tokenizer, "The cat sat unhappily")
    assert split.pieces == (("the",), ("cat",), ("sat",), ("un", "##ha", "##pp", "##ily"))
    assert split.n_special == 2
    assert split_by_words(gpt2_tokenizer(), "The cat sat unhappily").pieces[3] == ("Ġunh", "app", "ily")


@pytest.mark.parametrize("name", [n for n in HOSTILE_TEXTS if n not in ("empty", "whitespace")])
def test_split_and_chunk_survive_hostile_text(bundled, name):
    text = HOSTILE_TEXTS[name]
    for tokenizer in (bundled.tokenizer, gpt2_tokenizer()):
        split = split_by_words(tokenizer, text)
        assert split.n_words == len(text.split())
        chunks = chunk_document(tokenizer, text, 64)
        for chunk in chunks:
            assert len(tokenizer(chunk.text)["input_ids"]) <= 64


@pytest.mark.parametrize("name", ["empty", "whitespace"])
def test_nothing_to_split_is_a_clear_error(bundled, name):
    with pytest.raises(InputTextError):
        split_by_words(bundled.tokenizer, HOSTILE_TEXTS[name])
    with pytest.raises(InputTextError):
        chunk_document(bundled.tokenizer, HOSTILE_TEXTS[name], 256)


def test_chunks_fit_and_cover_the_document_in_order(bundled):
    tokenizer = bundled.tokenizer
    full = tokenizer(LONG_DOCUMENT, add_special_tokens=False)["input_ids"]
    assert len(full) > 3 * 256
    chunks = chunk_document(tokenizer, LONG_DOCUMENT, 256)
    assert len(chunks) >= 4
    content = []
    for chunk in chunks:
        ids = tokenizer(chunk.text)["input_ids"]
        assert len(ids) == chunk.n_tokens <= 256
        content.extend(ids[1:-1])
        assert chunk.text == LONG_DOCUMENT[chunk.start_char:chunk.end_char]
    assert content == full  # nothing lost, nothing repeated, in order
    # windows end where a word ends: the next chunk starts a new word
    for left, right in zip(chunks, chunks[1:]):
        assert LONG_DOCUMENT[left.end_char:right.start_char].strip() == "" or not LONG_DOCUMENT[right.start_char - 1].isalnum()
        assert right.first_token == left.end_token
    assert chunks[0].start_char == 0 and chunks[-1].end_char == len(LONG_DOCUMENT.rstrip())


def test_chunk_overlap_repeats_tokens(bundled):
    plain = chunk_document(bundled.tokenizer, LONG_DOCUMENT, 128)
    overlapping = chunk_document(bundled.tokenizer, LONG_DOCUMENT, 128, overlap=20)
    assert len(overlapping) > len(plain)
    for left, right in zip(overlapping, overlapping[1:]):
        assert 20 <= left.end_token - right.first_token < 40
        assert right.start_char < left.end_char


def test_chunks_fit_for_byte_level_bpe():
    tokenizer = gpt2_tokenizer()
    chunks = chunk_document(tokenizer, LONG_DOCUMENT + " 我爱自然语言处理 👨‍👩‍👧‍👦" * 20, 64)
    assert len(chunks) > 5
    assert all(len(tokenizer(c.text)["input_ids"]) <= 64 for c in chunks)


def test_a_short_text_is_one_chunk(bundled):
    chunks = chunk_document(bundled.tokenizer, "The cat sat unhappily", 256)
    assert len(chunks) == 1 and chunks[0].n_tokens == 9 and chunks[0].text == "The cat sat unhappily"


# -- the raw row and what enters layer 1 ------------------------------------------------------------


def test_embedding_parts_rebuild_what_enters_layer_1(bundled):
    trace = trace_text(bundled, "The cat sat unhappily")
    index = 2  # "cat"
    parts = embedding_parts(bundled, trace.embeddings, index)
    assert parts.names[0].startswith("token row") and parts.names[-1].startswith("after LayerNorm")
    weights = bundled.torch_module.embeddings
    token_row = weights.word_embeddings.weight[4937].detach().numpy()
    position_row = weights.position_embeddings.weight[index].detach().numpy()
    type_row = weights.token_type_embeddings.weight[0].detach().numpy()
    np.testing.assert_allclose(parts.vectors[0], token_row, atol=1e-7)
    np.testing.assert_allclose(parts.vectors[1], position_row, atol=1e-7)
    np.testing.assert_allclose(parts.vectors[2], type_row, atol=1e-7)
    total = token_row + position_row + type_row
    np.testing.assert_allclose(parts.vectors[3], total, atol=1e-6)
    ln = weights.LayerNorm  # LayerNorm by its formula, from the model's own weights
    normed = (total - total.mean()) / np.sqrt(total.var() + ln.eps) * ln.weight.detach().numpy() + ln.bias.detach().numpy()
    np.testing.assert_allclose(parts.vectors[-1], normed, atol=1e-5)
    assert parts.norm_module == "embeddings.LayerNorm" and parts.max_abs_difference < 1e-5


@pytest.mark.parametrize("family,names", [
    ("gpt2", ["token row (the lookup)", "+ position row", "= sum", "enters layer 1"]),
    ("llama", ["token row (the lookup)", "enters layer 1"]),
    ("modernbert", ["token row (the lookup)", "after LayerNorm = enters layer 1"]),
])
def test_embedding_parts_follow_each_family(family, names):
    explorer, _ = build_tiny(family)
    trace = trace_text(explorer, "the cat sat")
    parts = embedding_parts(explorer, trace.embeddings, 1)
    assert list(parts.names) == names
    assert parts.max_abs_difference < 1e-5
