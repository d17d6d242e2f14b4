"""The contrastive-training and end-to-end pages under AppTest."""



import json

from tests.apptest_pages import open_page


def metric(app, label):
    return [m for m in app.metric if m.label.startswith(label)][0].value


def test_contrastive_page_scores_the_batch_and_trains():
    app = open_page("pages/contrastive.py")
    assert float(metric(app, "InfoNCE loss")) < 0.1
    assert metric(app, "rows whose best match") == "100%"
    comparison = [df.value for df in app.dataframe if "model" in df.value.columns][0]
    assert comparison["loss"].iloc[0] < comparison["loss"].iloc[1]  # trained beats random weights
    app.slider(key="con_temperature").set_value(1.0).run()
    assert float(metric(app, "InfoNCE loss")) > 0.5  # a hot softmax is less sure
    app.slider(key="con_steps").set_value(4).run()
    app.button(key="con_train").click().run()
    assert not app.exception
    assert any("4 steps" in s.value for s in app.success)
    success = next(s.value for s in app.success if "4 steps" in s.value)
    assert "loss on the 8 training pairs themselves" in success
    caption = next(c.value for c in app.caption if "memorised" in c.value)
    assert "measured on the same 8 pairs the copy trains on" in caption and "8 held-out pairs" in caption
    scores = [df.value for df in app.dataframe if "loss after" in df.value.columns][0]
    assert list(scores["pairs"]) == ["the training batch (trained on)", "held-out pairs (never trained on)"]
    assert list(scores["count"]) == [8, 8]
    held = scores.iloc[1]
    assert f"{held['loss before']:.4f} → {held['loss after']:.4f}" in caption  # the caption quotes the live numbers
    projection = [json.loads(c.proto.spec) for c in app.get("plotly_chart") if "con_projection" in c.proto.id][0]
    for trace in projection["data"]:  # 32 points: labels on hover only, no pile of printed labels
        assert trace["mode"] == "markers" and "A1" in trace["hovertext"][0]


def test_pipeline_page_reconstructs_encode():
    app = open_page("pages/pipeline.py", text="The cat sat on the mat")
    header = " ".join(m.value for m in app.markdown)
    assert "Click a stage" not in header and "The links under the diagram open each stage's page." in header
    links = [link.proto.label for link in app.get("page_link")]
    assert links == ["1 · Tokenization", "2 · Lookup", "3 · Positions", "4 · Attention", "5 · Feed-forward", "6 · Pooling"]
    differences = [float(m.value) for m in app.metric if m.label.startswith("largest |difference|")]
    assert len(differences) == 1 and differences[0] < 1e-5  # sentence-transformers loads only when asked
    app.button(key="pipe_st_check").click().run()
    differences = [float(m.value) for m in app.metric if m.label.startswith("largest |difference|")]
    assert len(differences) == 2 and max(differences) < 1e-5
    assert abs(float(metric(app, "cosine similarity")) - 0.564) < 0.005
    app.text_input(key="pipe_other").input("A dog ran in the park").run()  # the check stays on for this visitor
    assert len([m for m in app.metric if m.label.startswith("largest |difference|")]) == 2
