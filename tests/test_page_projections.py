"""The projections page under AppTest: example sets, typed lines, uploads good and bad."""

import io

import numpy as np
import pytest

from tests.apptest_pages import open_page as open_app_page

PAGE = "pages/projections.py"


def open_page(**state):
    return open_app_page(PAGE, **state)


def neighbours(app):
    return [df.value for df in app.dataframe if "cosine" in df.value.columns][0]


def test_example_set_projects_and_lists_neighbours():
    app = open_page(proj_method="pca")
    table = neighbours(app)
    assert len(table) == 10 and (table["cosine"] <= 1).all()
    assert app.selectbox(key="proj_pick").value == 0
    assert any("Simmer the tomato sauce" in m.value for m in app.markdown)


def test_token_view_tables_the_same_word_across_sentences():
    app = open_page(proj_method="pca")
    assert app.selectbox(key="proj_same_token").value == "bank"
    table = [df.value for df in app.dataframe if "sentences" in df.value.columns][0]
    assert list(table["sentences"]) == ["1 ↔ 2", "1 ↔ 3", "1 ↔ 4", "2 ↔ 3", "2 ↔ 4", "3 ↔ 4"]
    assert list(table.columns)[1:] == [f"layer {i}" for i in range(6)] + ["layer 6 (shown)"]
    assert (table["layer 0"] > 0.9).all() and (table["layer 6 (shown)"] < table["layer 0"]).all()
    caption = next(c.value for c in app.caption if "occurrences of" in c.value)
    final = table["layer 6 (shown)"]
    assert f"Layer 6: {final.min():.3f}–{final.max():.3f}" in caption  # the caption quotes the table
    closest = table["sentences"][final.idxmax()].split(" ↔ ")
    assert f"closest: sentences {closest[0]} and {closest[1]}" in caption
    assert "drift apart" not in "\n".join(m.value for m in app.markdown)  # no promise the numbers may not keep
    from tests.test_pages_stage4_5 import chart
    from ui.colours import CATEGORY_COLOURS

    tokens = chart(app, "proj_tokens_plot")["data"]  # one legend entry, one palette colour, per sentence
    assert [trace["name"][:2] for trace in tokens] == ["1:", "2:", "3:", "4:"]
    assert [trace["marker"]["color"] for trace in tokens] == list(CATEGORY_COLOURS[:4])
    app.selectbox(key="proj_same_token").set_value("the").run()
    assert not app.exception
    app.slider(key="proj_token_layer").set_value(0).run()
    assert any("Move the layer slider" in c.value for c in app.caption)


def test_typed_sentences_and_the_layer_slider():
    app = open_page(proj_source="Typed, one per line", proj_method="pca",
                    proj_typed="a red apple\na green pear\nthe stock market\nbond yields rose")
    first = neighbours(app)
    assert first["sentence"].iloc[0] == "a green pear"
    app.slider(key="proj_layer").set_value(0).run()
    assert not app.exception
    assert len(neighbours(app)) == 3


def test_opening_a_sentence_in_the_stage_pages():
    app = open_page(proj_method="pca")
    app.button(key="proj_open").click().run()
    assert not app.exception
    assert app.session_state["text"] == "Simmer the tomato sauce for twenty minutes before adding basil."


@pytest.mark.parametrize(
    "content, name, message",
    [
        (b"text\n\xff\xfe\xfa bad\n", "bad.csv", "not valid UTF-8"),
        (b"\x00\x01\x02\x03 binary junk", "junk.csv", "binary"),
        (b"headline,topic\nA,b\nC,d\nE,f\n", "nocol.csv", None),  # no 'text' column: the first column is offered
        (b"text\n\n\n", "empty.csv", "no rows"),
    ],
)
def test_bad_uploads_get_a_message_and_keep_the_text(content, name, message):
    app = open_page(proj_source="Upload a table", proj_method="pca", text="my own sentence stays")
    app.file_uploader(key="proj_table").set_value((name, content, "text/csv")).run()
    assert not app.exception
    if message:
        assert any(message in e.value.replace("\\", "") for e in app.error), [e.value for e in app.error]
    else:
        assert app.selectbox(key="proj_text_col").value == "headline"
    assert app.session_state["text"] == "my own sentence stays"


def test_uploaded_vectors_must_match_the_texts():
    app = open_page(proj_source="Upload vectors", proj_method="pca")
    app.file_uploader(key="proj_table").set_value(("t.csv", b"text\none\ntwo\nthree\nfour\n", "text/csv")).run()
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(0).normal(size=(5, 16)).astype(np.float32))
    app.file_uploader(key="proj_vectors").set_value(("v.npy", buffer.getvalue(), "application/octet-stream")).run()
    assert any("5 vectors but 4 texts" in e.value for e in app.error)
    good = io.BytesIO()
    np.save(good, np.random.default_rng(0).normal(size=(4, 16)).astype(np.float32))
    app.file_uploader(key="proj_vectors").set_value(("v.npy", good.getvalue(), "application/octet-stream")).run()
    assert not app.exception and not app.error
    assert len(neighbours(app)) == 3
