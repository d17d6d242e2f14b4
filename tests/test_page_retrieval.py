"""The retrieval debugger page under AppTest: its ranking equals core's on the same inputs, bad input gets a
message and keeps what was typed, the what-ifs and the training run draw."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.retrieval.search import build_index, encode_query, rank
from tests.apptest_pages import APP, open_page, page_text
from ui import retrieval_state as rs

PAGE = "pages/retrieval.py"
PASSAGES = ["The cat sat on the mat and purred.", "Stock markets fell sharply on Tuesday.",
            "A feline rested on the rug near the fire.", "Photosynthesis converts light into chemical energy.",
            "The bank raised its interest rates again."]


def _metric(app, start: str) -> str:
    return next(m.value for m in app.metric if m.label.startswith(start))


def _messages(app) -> str:
    return "\n".join(str(e.value) for kind in ("error", "warning", "info") for e in getattr(app, kind))


def _ranking(app):
    return next(df.value for df in app.dataframe if "expected" in df.value.columns and "#" in df.value.columns)


@pytest.fixture(scope="module")
def stsb_case():
    """Independently of the page: the STS-B example embedded by core, and the first example query whose
    answer is not on top (the case the debugger is for)."""
    model = rs.cached_model(rs.state.BUNDLED_MODEL_ID, "auto")
    example = rs.stsb_example(rs.STSB_DEV)
    index = build_index(model, list(example.passages))
    for number, (query, answer) in enumerate(zip(example.queries, example.answers)):
        ranking = rank(index, encode_query(model, query))
        if ranking.rank_of(answer) > 1:
            return number, query, answer, ranking
    raise AssertionError("every STS-B query ranks its answer first")


def test_the_stsb_example_ranks_as_core_does(stsb_case):
    number, query, answer, ranking = stsb_case
    app = open_page(PAGE)
    assert [h.value for h in app.header] == ["Query and corpus", "Token budget", "Ranking", "Why this rank", "What if",
                                             "Is this score high?", "Fix it by training"]
    assert app.text_input(key="rt_query").value == rs.stsb_example(rs.STSB_DEV).queries[0]
    # the example-query picker fills the box and marks the known answer as expected
    app.selectbox(key="rt_example_query_stsb").set_value(number).run()
    assert not app.exception
    assert app.text_input(key="rt_query").value == query and app.session_state["rt_expected"] == answer
    top = int(ranking.order[0])
    assert _metric(app, "rank of the passage you expected") == f"{ranking.rank_of(answer)} of {len(ranking.order)}"
    assert _metric(app, "its score") == f"{ranking.scores[answer]:.5f}"
    assert _metric(app, "top passage") == f"passage {top + 1} · {ranking.scores[top]:.5f}"
    table = _ranking(app)
    assert list(table["#"])[:10] == [p + 1 for p in ranking.order[:10]]
    assert table["score"].iloc[0] == pytest.approx(float(ranking.scores[top]), abs=1e-6)
    assert "← expected" in list(table["expected"])
    text = page_text(app)
    assert "Scores: cosine" in text and f"passage {answer + 1}" in text
    # recall over the example's queries: the page's figure equals core's (which equals the CLI's and an
    # independent sentence-transformers computation: tests/test_retrieval.py)
    from core.retrieval.search import encode_queries, recall_at_k

    example = rs.stsb_example(rs.STSB_DEV)
    model = rs.cached_model(rs.state.BUNDLED_MODEL_ID, "auto")
    recall = recall_at_k(build_index(model, list(example.passages)), encode_queries(model, list(example.queries)),
                         example.answers, ks=(1, 10))
    assert _metric(app, "recall@1 over the example's queries") == f"{recall[1]:.2%}"
    assert _metric(app, "recall@10") == f"{recall[10]:.2%}"
    # why this rank: one heatmap per passage, the layer lines; what if: bars and a table with every kind of edit
    ids = [chart.proto.id for chart in app.get("plotly_chart")]
    for key in ("rt_budget_hist", "rt_pairs_top", "rt_pairs_expected", "rt_layers", "rt_whatif", "rt_scores"):
        assert any(key in i for i in ids), key
    edits = next(df.value for df in app.dataframe if "places moved up" in df.value.columns)
    assert {"query token", "pooling", "dimensions", "quantisation"} <= set(edits["edit"])
    app.button(key="rt_passage_whatif").click().run()
    assert not app.exception
    assert any("rt_whatif_words" in chart.proto.id for chart in app.get("plotly_chart"))
    # fix it by training: two steps, rank before → after, the held-out queries counted
    app.slider(key="rt_steps").set_value(2).run()
    app.button(key="rt_teach").click().run()
    assert not app.exception
    assert "→" in _metric(app, f"rank of passage {answer + 1}")
    held = next(m.value for m in app.markdown if "held-out queries" in m.value)
    assert f"Of {len(rs.held_out_queries('stsb', query)[0]):,} held-out queries" in held
    assert any("rt_loss" in chart.proto.id for chart in app.get("plotly_chart"))


def test_pasted_passages_and_the_expected_picker():
    app = open_page(PAGE, rt_corpus="pasted", rt_pasted="\n".join(PASSAGES), rt_query="Where did the kitten lie down?")
    table = _ranking(app)
    assert set(table["#"][:2]) == {1, 3}  # the two cat passages first
    picker = next(s for s in app.selectbox if s.label == "The passage I expected")
    picker.set_value(3).run()
    assert not app.exception and app.session_state["rt_expected"] == 3
    assert _metric(app, "rank of the passage you expected").endswith("of 5")
    assert "passage 4" in next(m.label for m in app.metric if m.label.startswith("rank of the passage"))
    app.button(key="rt_teach").click().run()  # no example: no held-out queries, said so
    assert not app.exception
    assert any("no other queries with known answers" in c.value for c in app.caption)


def test_bad_input_gets_a_message_and_keeps_the_text():
    app = open_page(PAGE, rt_corpus="pasted", rt_pasted="\n".join(PASSAGES), rt_query="kitten")

    def typed(passages=None, query=None):
        if passages is not None:
            app.session_state["rt_pasted"] = passages
        if query is not None:
            app.session_state["rt_query"] = query
        app.run()
        assert not app.exception, app.exception
        return _messages(app)

    assert "Type a query" in typed(query="")
    assert app.text_input(key="rt_query").value == "" and app.text_area(key="rt_pasted").value == "\n".join(PASSAGES)
    assert "The corpus is empty" in typed(passages="\n \n", query="kitten")
    assert "one passage" in typed(passages="just one passage")
    assert app.text_area(key="rt_pasted").value == "just one passage"
    assert "Duplicate passages: 3 repeats 1" in typed(passages="\n".join([PASSAGES[0], PASSAGES[1], PASSAGES[0]]))
    huge = "word " * 50_001
    assert f"has {len(huge.strip()):,} characters" in typed(passages=PASSAGES[0] + "\n" + huge)
    assert app.text_area(key="rt_pasted").value == PASSAGES[0] + "\n" + huge
    long = ("many words " * 18_200)[:199_990]
    assert "never sees" in typed(passages=PASSAGES[0] + "\n" + long)  # at the limit: embedded, its cut shown
    assert "at most 20,000" in typed(passages="\n".join(f"passage {i}" for i in range(20_001)))

    app.session_state["rt_corpus"] = "upload"
    app.run()
    assert "Upload a file" in _messages(app)
    def uploader():
        return app.file_uploader(key="rt_upload")

    for name, content, message in (("bad.csv", b"\x00\x01PK\x03binary", "binary"),
                                   ("bad.jsonl", b'{"text": "a"}\n{broken\n', "not valid JSON"),
                                   ("cut.parquet", b"PAR1 not really", "not a readable Parquet"),
                                   ("nested.jsonl", b'{"text": {"a": 1}}\n{"text": {"b": 2}}\n', "is not text")):
        uploader().set_value((name, content, "application/octet-stream")).run()
        assert not app.exception, name
        assert message in _messages(app), name
        assert app.text_input(key="rt_query").value == "kitten"
    uploader().set_value(("corpus.csv", b"id,text\n1,the cat sat on the mat\n2,interest rates rose\n3,a kitten slept\n",
                        "text/csv")).run()
    assert list(_ranking(app)["#"])[0] in (1, 3)
    app.selectbox(key="rt_column").set_value("id").run()
    assert "holds only numbers" in _messages(app)
    uploader().set_value(("corpus.jsonl", b'{"text": "the cat sat", "n": 1}\n{"text": "bonds fell", "n": 2}\n',
                        "application/json")).run()
    assert not app.exception and list(_ranking(app)["#"])[0] == 1


def test_a_link_restores_the_query_corpus_and_expected_passage():
    app = AppTest.from_file(APP, default_timeout=300)
    for name, value in {"query": "kitten", "corpus": "pasted", "passages": "\n".join(PASSAGES), "expected": "3"}.items():
        app.query_params[name] = value
    app.run()
    app.switch_page(PAGE).run()
    assert not app.exception
    assert app.text_input(key="rt_query").value == "kitten" and app.session_state["rt_expected"] == 2
    assert "passage 3" in next(m.label for m in app.metric if m.label.startswith("rank of the passage"))
    params = {k: app.query_params[k] for k in app.query_params}
    flat = {k: v[0] if isinstance(v, list) else v for k, v in params.items()}
    assert flat["corpus"] == "pasted" and flat["expected"] == "3" and flat["passages"] == "\n".join(PASSAGES)
    app.radio(key="rt_corpus").set_value("docstrings").run()  # the passages leave the link with their corpus
    assert "passages" not in app.query_params and not app.exception


def test_uploaded_texts_with_their_vectors_rank_without_embedding_again(tmp_path):
    """A Parquet of texts and vectors (what `python -m core embed` writes) is ranked with the file's own vectors;
    vectors of another model are flagged, and a wrong dimension is refused with a message."""

    import numpy as np

    from core import embed_texts
    from core.text.datasets import write_vectors_parquet

    model = rs.cached_model(rs.state.BUNDLED_MODEL_ID, "auto")
    vectors = embed_texts(model, PASSAGES)
    good, wrong, short = (tmp_path / name for name in ("good.parquet", "wrong.parquet", "short.parquet"))
    write_vectors_parquet(good, PASSAGES, vectors)
    rng = np.random.default_rng(0)
    write_vectors_parquet(wrong, PASSAGES, rng.standard_normal(vectors.shape).astype(np.float32))
    write_vectors_parquet(short, PASSAGES, vectors[:, :100])
    app = open_page(PAGE)
    app.session_state["rt_corpus"] = "upload"
    app.session_state["rt_query"] = "Where did the kitten lie down?"
    app.run()
    app.file_uploader(key="rt_upload").set_value(("good.parquet", good.read_bytes(), "application/octet-stream")).run()
    assert not app.exception
    expected = rank(build_index(model, PASSAGES), encode_query(model, "Where did the kitten lie down?"))
    assert list(_ranking(app)["#"])[:5] == [p + 1 for p in expected.order[:5]]
    assert "nothing was embedded" in page_text(app) and "cosine of 1.0000" in page_text(app)
    app.file_uploader(key="rt_upload").set_value(("wrong.parquet", wrong.read_bytes(), "application/octet-stream")).run()
    assert not app.exception and "not what" in _messages(app)
    app.file_uploader(key="rt_upload").set_value(("short.parquet", short.read_bytes(), "application/octet-stream")).run()
    assert not app.exception and "100 dimensions" in _messages(app)
    assert app.text_input(key="rt_query").value == "Where did the kitten lie down?"
