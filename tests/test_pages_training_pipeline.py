"""The contrastive-training and end-to-end pages under AppTest."""



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


def test_pipeline_page_reconstructs_encode():
    app = open_page("pages/pipeline.py", text="The cat sat on the mat")
    differences = [float(m.value) for m in app.metric if m.label.startswith("largest |difference|")]
    assert len(differences) == 2 and max(differences) < 1e-5
    assert abs(float(metric(app, "cosine similarity")) - 0.564) < 0.005
