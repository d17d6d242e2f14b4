"""The pooling page under AppTest."""


import pytest

from tests.apptest_pages import open_page as open_app_page

from .hostile import HOSTILE_TEXTS

PAGE = "pages/pooling.py"


def open_page(text=None):
    return open_app_page(PAGE, **({} if text is None else {"text": text}))


def test_pooling_page_compares_poolings_and_explains_similarity():
    app = open_page()
    titles = [t.value for t in app.title]
    assert "6 · Pooling and similarity" in titles  # the sidebar's name
    table = app.dataframe[0].value
    assert list(table["pooling"])[:3] == ["[CLS] token", "mean (native)", "max"]
    # Normalisation check: the difference between cosine and dot product is printed and tiny.
    metric = [m for m in app.metric if m.label.startswith("cosine − dot")][0]
    assert float(metric.value) < 1e-5
    # The article's example, live: the model's numbers, not the article's.
    article = [df.value for df in app.dataframe if "the article says" in df.value.columns][0]
    gives = article.iloc[:, 2].tolist()
    assert gives[0] == "0.564" and gives[1] == "0.031"


def _chart(app, key):
    import json

    return next(json.loads(c.proto.spec) for c in app.get("plotly_chart") if key in c.proto.id)


def test_similarity_matrices_are_numbered_and_print_their_values():
    app = open_page()
    sentences = [df.value for df in app.dataframe if "sentence" in df.value.columns][0]
    assert list(sentences["#"]) == [1, 2, 3]
    spec = _chart(app, "pool_matrices")
    for axis in ("xaxis", "yaxis", "xaxis2", "yaxis2"):
        assert spec["layout"][axis]["showticklabels"] is True and spec["layout"][axis]["ticktext"] == ["1", "2", "3"]
    assert all(trace["texttemplate"] == "%{z:.2f}" for trace in spec["data"])
    assert any("# of the sentence list" in c.value for c in app.caption)


def test_pair_explainer_shows_every_pooling_and_why_raw_values_differ():
    import numpy as np

    app = open_page()
    table = [df.value for df in app.dataframe if "cosine of 1 and 2" in df.value.columns][0]
    spec = _chart(app, "pool_matrices")
    from ui.figure_data import _plain

    by_name = {trace["name"]: np.asarray(_plain(trace["z"]), dtype=float) for trace in spec["data"]}
    for pooling, value, average in table.itertuples(index=False):
        matrix = by_name[pooling]
        assert value == pytest.approx(matrix[0, 1], abs=1e-3)  # from the matrices on the page
        assert average == pytest.approx(matrix[~np.eye(3, dtype=bool)].mean(), abs=1e-3)
    averages = dict(zip(table["pooling"], table.iloc[:, 2]))
    caption = next(c.value for c in app.caption if "trained with" in c.value)
    assert "compare rankings within one pooling" in caption
    assert averages["max"] > averages["mean (native)"] and f"{averages['max']:.2f}" in caption
    assert f"{averages['mean (native)']:.2f} under mean" in caption


def test_similarity_reacts_to_new_sentences_and_a_new_text():
    app = open_page("Bank accounts earn interest")
    app.session_state["pool_sentences"] = "I like tea\nI enjoy tea\nThe stock market crashed"
    app.run()
    assert not app.exception
    sentences = [df.value for df in app.dataframe if "sentence" in df.value.columns][0]
    assert list(sentences["sentence"]) == ["I like tea", "I enjoy tea", "The stock market crashed"]
    shares = [df.value for df in app.dataframe if "share of the score" in df.value.columns][0]
    assert len(shares) == 8


def test_sts_evaluation_on_the_first_pairs():
    app = open_page()
    app.session_state["pool_sts_n"] = 100
    app.run()
    app.button(key="pool_sts_run").click().run()
    assert not app.exception
    scores = [df.value for df in app.dataframe if "Spearman × 100" in df.value.columns][0]
    assert set(scores["pooling"]) >= {"mean (native)", "[CLS] token", "max"}
    assert all(-100 <= v <= 100 for v in scores["Spearman × 100"])
    assert any("100 pairs" in s.value for s in app.success)
    # A rerun that hits the cached result (new scatter) must not trip over the progress bar.
    app.selectbox(key="pool_sts_scatter").set_value("max").run()
    assert not app.exception
    assert any("100 pairs" in s.value for s in app.success)


@pytest.mark.parametrize("name", ["empty", "zero_width_control", "markup", "long_5000_tokens", "emoji_zwj"])
def test_hostile_texts(name):
    app = open_page(HOSTILE_TEXTS[name])
    assert not app.exception
    if name == "empty":
        assert any("empty" in w.value for w in app.warning)
    if name == "long_5000_tokens":
        assert any("dropped" in w.value for w in app.warning)


def test_idf_weights_from_an_uploaded_file():
    app = open_page()
    app.radio(key="pool_idf_source").set_value("An uploaded file").run()
    assert any("No file uploaded yet" in i.value for i in app.info)
    app.file_uploader(key="pool_idf_upload").set_value(("corpus.txt", b"the cat\nthe dog\nthe bird\n", "text/plain")).run()
    assert not app.exception
    assert any("the 3 texts of corpus.txt" in c.value for c in app.caption)
    app.file_uploader(key="pool_idf_upload").set_value(("bad.csv", b"\x00\x01binary", "text/csv")).run()
    assert not app.exception
    assert any("binary" in w.value for w in app.warning)
