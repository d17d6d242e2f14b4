"""Texts longer than the model's window are marked where the app embeds them (pooling's similarity tab,
the projections page's sentences and token view), with counts that agree with core.text.budget."""

import pytest

from core.text.budget import text_budgets
from tests.apptest_pages import open_page

LONG = " ".join(["the quiet river bank was green"] * 50)   # 300 words, about 300 tokens
SHORT = ["A cat sleeps on the sofa", "A kitten naps on the couch", "Interest rates rose again"]


@pytest.fixture(scope="module")
def budget_of(bundled):
    def of(texts):
        return text_budgets(bundled.tokenizer, texts, bundled.info.max_seq_length, prompt=bundled.pipeline.resolve_prompt())

    return of


def window_warnings(app):
    return [w.value for w in app.warning if "-token window" in w.value]


def window_captions(app):
    return [c.value for c in app.caption if "-token window" in c.value]


def test_pooling_similarity_names_the_cut_sentence_and_its_lost_tokens(budget_of, bundled):
    sentences = [SHORT[0], LONG, SHORT[1]]
    dropped = budget_of(sentences).texts[1].dropped_tokens
    assert dropped == len(bundled.tokenizer(LONG)["input_ids"]) - 256 > 0
    app = open_page("pages/pooling.py", pool_sentences="\n".join(sentences))
    [warning] = window_warnings(app)
    assert "Sentence 2 of the 3 is longer than" in warning and "256-token window" in warning
    assert f"the model never sees the last {dropped} tokens of sentence 2." in warning
    # The pair explainer picks sentences 1 and 2: one caption, for sentence 2.
    [caption] = window_captions(app)
    assert caption.startswith("Sentence 2 needs") and f"its last {dropped} tokens" in caption

    two = [LONG, SHORT[0], SHORT[1], LONG + " " + LONG]
    app.session_state["pool_sentences"] = "\n".join(two)
    app.run()
    assert not app.exception
    budget = budget_of(two)
    [warning] = window_warnings(app)
    assert "Sentences 1 and 4 (2 of the 4) are longer" in warning
    assert (f"the last {budget.texts[0].dropped_tokens} tokens of sentence 1 and the last "
            f"{budget.texts[3].dropped_tokens} tokens of sentence 4." in warning)

    app.session_state["pool_sentences"] = "\n".join(SHORT)
    app.run()
    assert not app.exception and not window_warnings(app) and not window_captions(app)


def test_projections_mark_cut_sentences_and_token_view_lines(budget_of):
    typed = [SHORT[0], SHORT[1], LONG, SHORT[2]]
    lines = ["The bank approved my loan.", "We sat on the river bank. " + LONG]
    app = open_page("pages/projections.py", proj_source="Typed, one per line", proj_method="pca",
                    proj_typed="\n".join(typed), proj_tokens_text="\n".join(lines), proj_pick=2)
    dropped = budget_of(typed).texts[2].dropped_tokens
    [warning] = window_warnings(app)
    assert "Sentence 3 of the 4 is longer than" in warning
    assert f"the model never sees the last {dropped} tokens of sentence 3." in warning
    captions = window_captions(app)
    line = budget_of(lines).texts[1]
    assert [c.split(" needs")[0] for c in captions] == ["Sentence 3", "Line 2"]
    assert f"its last {dropped} tokens" in captions[0]
    assert f"needs {line.n_tokens} tokens" in captions[1] and f"its last {line.dropped_tokens} tokens" in captions[1]

    app.session_state["proj_typed"] = "\n".join(SHORT)
    app.session_state["proj_tokens_text"] = "The bank approved my loan.\nWe sat on the river bank."
    app.run()
    assert not app.exception and not window_warnings(app) and not window_captions(app)
