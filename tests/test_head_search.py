"""Head search ranks every layer × head against rankings recomputed here from transformers' own eager
attentions (not from the explorer's trace)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
import torch

from core import trace_text
from core.analysis.head_search import PATTERNS, find_token, heads_by_link, heads_by_pattern

SENTENCE = "The animal did not cross the street because it was too tired"


@lru_cache(maxsize=None)
def eager(text):
    """[L, H, T, T] output_attentions of the bundled model, and its tokens."""
    from transformers import AutoModel, AutoTokenizer

    from core.models.bundled import bundled_model_dir

    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_dir()))
    model = AutoModel.from_pretrained(str(bundled_model_dir()), attn_implementation="eager").eval()
    encoded = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        attentions = model(**encoded, output_attentions=True).attentions
    return torch.stack(attentions)[:, 0].double().numpy(), tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])


def test_the_top_head_for_it_to_animal_is_the_eager_argmax(bundled):
    trace = trace_text(bundled, SENTENCE)
    it, animal = find_token(trace.tokens, "it"), find_token(trace.tokens, "animal")
    attentions, tokens = eager(SENTENCE)
    assert (tokens[it], tokens[animal]) == ("it", "animal")
    ranking = heads_by_link(trace, it, animal)
    weights = attentions[:, :, it, animal]                       # [L, H] from transformers itself
    layer, head = np.unravel_index(np.argmax(weights), weights.shape)
    assert ranking.top(1)[0][:2] == (layer, head)
    np.testing.assert_allclose(ranking.scores, weights, atol=1e-5)
    assert len(ranking.ranked) == weights.size
    assert [score for *_, score in ranking.ranked] == sorted((score for *_, score in ranking.ranked), reverse=True)


@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_patterns_equal_a_loop_over_eager_attentions(bundled, pattern):
    text = "Tokenization splits unhappily into pieces"
    trace = trace_text(bundled, text)
    attentions, tokens = eager(text)
    words = list(trace.tokens.word_ids)
    n = len(tokens)
    expected = np.zeros(attentions.shape[:2])
    for layer in range(attentions.shape[0]):
        for head in range(attentions.shape[1]):
            per_query = []
            for q in range(n):
                if pattern == "previous":
                    keys = [q - 1] if q > 0 else []
                elif pattern == "separator":
                    keys = [n - 1] if q != n - 1 else []   # [SEP] is the last token
                else:
                    keys = [k for k in range(n) if k != q and words[q] >= 0 and words[k] == words[q]]
                if keys:
                    per_query.append(sum(attentions[layer, head, q, k] for k in keys))
            expected[layer, head] = np.mean(per_query)
    ranking = heads_by_pattern(trace, pattern)
    np.testing.assert_allclose(ranking.scores, expected, atol=1e-5)
    assert ranking.top(1)[0][:2] == np.unravel_index(np.argmax(expected), expected.shape)


def test_no_multi_piece_word_means_no_answer(bundled):
    ranking = heads_by_pattern(trace_text(bundled, "the cat sat"), "same_word")
    assert not ranking.answered and np.isnan(ranking.scores).all()


def test_find_token_reads_words_as_written(bundled):
    trace = trace_text(bundled, "It was the cat. Then it sat unhappily")
    assert trace.tokens.tokens[find_token(trace.tokens, "it")] == "it"
    assert find_token(trace.tokens, "it", after=find_token(trace.tokens, "it")) > find_token(trace.tokens, "it")
    assert trace.tokens.tokens[find_token(trace.tokens, "unhappily")] == "un"   # a word's first piece
    assert find_token(trace.tokens, "##ily") is None and find_token(trace.tokens, "dog") is None
    with pytest.raises(ValueError):
        heads_by_link(trace, 0, 99)


def test_attention_page_head_search_by_words_and_link(bundled):
    from streamlit.testing.v1 import AppTest

    from .apptest_pages import APP
    from .test_pages_stage4_5 import chart

    trace = trace_text(bundled, SENTENCE)
    it, animal = find_token(trace.tokens, "it"), find_token(trace.tokens, "animal")
    layer, head, weight = heads_by_link(trace, it, animal).top(1)[0]
    app = AppTest.from_file(APP, default_timeout=300)
    app.query_params.update({"text": SENTENCE})
    app.run()
    app.switch_page("pages/attention.py").run()
    app.text_input(key="attn_search_words").input("it → animal").run()
    assert not app.exception
    assert (app.session_state["attn_search_from"], app.session_state["attn_search_to"]) == (it, animal)
    table = next(frame.value for frame in app.dataframe if "rank" in frame.value.columns)
    assert (table["layer"][0], table["head"][0]) == (layer + 1, head + 1)
    assert abs(table.iloc[0, 3] - weight) < 1e-4
    maps = chart(app, "attn_search_maps")
    assert f"layer {layer + 1} · head {head + 1}" in str(maps["layout"])
    app.button(key=f"attn_search_open_{layer}_{head}").click().run()
    assert (app.session_state["attn_layer"], app.session_state["attn_head"]) == (layer, head)
    assert app.query_params["from"] == [str(it + 1)] or app.query_params["from"] == str(it + 1)
    app.text_input(key="attn_search_words").input("it → dog").run()
    assert any("is not a word of your text" in str(c.value) for c in app.caption)
    assert (app.session_state["attn_search_from"], app.session_state["attn_search_to"]) == (it, animal)  # kept
