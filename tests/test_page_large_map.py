"""The projections page's large map: an uploaded table of 2-D points drawn by WebGL with a density
layer, binary coordinates, hover texts cut to fit the message limit; bad maps get a message."""

import base64
import io
import json

import numpy as np
import pandas as pd
import pytest

from tests.apptest_pages import open_page, page_text
from ui.labels import text_label
from ui.large_map import HOVER_TEXT_SHARE, hover_length, large_map

PAGE = "pages/projections.py"


def parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


def a_map(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, n)
    centres = np.array([[0, 0], [8, 0], [0, 8], [8, 8], [4, 4]], dtype=np.float32)
    points = centres[labels] + rng.standard_normal((n, 2)).astype(np.float32)
    return pd.DataFrame({"x": points[:, 0], "y": points[:, 1], "label": [f"topic {t}" for t in labels],
                         "text": [f"Passage {i} of topic {labels[i]}, with *stars* and a long tail of words " * 3 for i in range(n)]})


def decoded(array):
    """A Plotly trace array: base64 typed (bdata) or a plain list."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]).newbyteorder("<"))
    return np.asarray(array)


def upload_map(frame: pd.DataFrame, name: str = "map.parquet"):
    app = open_page(PAGE, proj_source="Upload a map (x, y)")
    content = parquet(frame) if name.endswith(".parquet") else frame.to_csv(index=False).encode()
    app.file_uploader(key="proj_map_file").set_value((name, content, "application/octet-stream")).run()
    assert not app.exception, app.exception
    return app


def test_a_map_of_30000_points_is_drawn_in_binary_with_density_and_texts_cut_to_fit():
    frame = a_map(30_000)
    app = upload_map(frame)
    assert not app.error
    chart = [c for c in app.get("plotly_chart") if c.proto.id.endswith("proj_map")][0]
    spec = json.loads(chart.proto.spec)
    density, *scatters = spec["data"]
    assert density["type"] == "heatmap" and [s["type"] for s in scatters] == ["scattergl"] * 5
    # coordinates travel as binary float32 and are the uploaded ones, every point once
    xs = np.concatenate([decoded(s["x"]) for s in scatters])
    assert all(isinstance(s["x"], dict) and s["x"]["dtype"] == "f4" for s in scatters)
    np.testing.assert_array_equal(np.sort(xs), np.sort(frame["x"].to_numpy(np.float32)))
    # density: log(1 + count) per cell, empty cells blank; the cells hold every point
    z = np.asarray(density["z"] if not isinstance(density["z"], dict) else decoded(density["z"]), dtype=float)
    assert np.nansum(np.expm1(z)) == pytest.approx(30_000, rel=1e-3)
    # hover texts: each text's first characters, as many as the limit allows for 30,000 of them
    limit = 200 * 2**20  # Streamlit's default server.maxMessageSize
    chars = hover_length(30_000, limit)
    first = scatters[0]
    label = first["name"].split(" (")[0]
    rows = np.flatnonzero(frame["label"].to_numpy() == label)
    assert first["text"][:3] == [text_label(frame["text"][i], chars) for i in rows[:3]]
    text = page_text(app)
    assert "30,000 points" in text and "message limit" in text
    payload = len(chart.proto.spec.encode())
    assert payload < HOVER_TEXT_SHARE * limit + 30_000 * 16  # texts within their share, coordinates a few bytes each


def test_the_hover_budget_shrinks_texts_as_points_grow():
    limit = 200 * 2**20
    lengths = [hover_length(n, limit) for n in (1_000, 200_000, 1_000_000, 5_000_000)]
    assert lengths == sorted(lengths, reverse=True) and lengths[0] == 160 and lengths[-1] == 16
    assert 1_000_000 * (hover_length(1_000_000, limit) + 4) <= HOVER_TEXT_SHARE * limit


def test_a_selection_maps_back_to_its_rows():
    frame = a_map(500)
    built = large_map(frame[["x", "y"]].to_numpy(np.float32), frame["label"].to_numpy(object), frame["text"].tolist(),
                      title="t", legend_title="label")
    for trace, rows in built.rows_of_trace.items():
        xs = np.asarray(built.figure.data[trace].x)
        np.testing.assert_array_equal(xs, frame["x"].to_numpy(np.float32)[rows])
    picked = [{"curve_number": 2, "point_index": 0}, {"curve_number": 1, "point_index": 3}, {"curve_number": 0, "point_index": 5}]
    assert built.rows_of(picked).tolist() == sorted([built.rows_of_trace[2][0], built.rows_of_trace[1][3]])


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"x": [1.0, 2.0, 3.0], "text": ["a", "b", "c"]}), "no column 'y'"),
    (pd.DataFrame({"x": [1.0, np.nan, 3.0], "y": [1.0, 2.0, np.inf], "text": ["a", "b", "c"]}), "rows 2, 3"),
    (pd.DataFrame({"x": ["1", "two", "3"], "y": ["1", "2", "3"], "text": ["a", "b", "c"]}), "must hold numbers"),
])
def test_bad_maps_get_a_message(frame, message):
    app = upload_map(frame, "bad.csv")
    assert any(message in e.value for e in app.error), [e.value for e in app.error]
    assert app.file_uploader(key="proj_map_file").value is not None  # the upload stays


def test_vectors_embedded_on_the_server_are_projected_and_visitors_are_not_offered_the_disk(tmp_path, monkeypatch):
    from core.embed.embed_output import write_embedding_output

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((300, 16)).astype(np.float32)
    texts = [f"Passage number {i}" for i in range(300)]
    write_embedding_output(tmp_path / "out", texts, vectors, model={"model_id": "test/model"}, engine="local",
                           options={}, shard_rows=128)
    app = open_page(PAGE, proj_source="Embedded on this server", proj_server_path=str(tmp_path / "out"), proj_method="pca")
    assert not app.error, [e.value for e in app.error]
    assert "300 vectors of 16 dimensions" in page_text(app)
    cosines = [df.value for df in app.dataframe if "cosine" in df.value.columns][0]["cosine"].to_numpy()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(np.sort(cosines)[::-1], np.sort(np.delete(unit @ unit[0], 0))[::-1][:10], atol=1e-4)
    monkeypatch.setenv("EXPLORER_HOSTED", "1")
    visitor = open_page(PAGE)
    assert "Embedded on this server" not in visitor.radio(key="proj_source").options


def test_a_3d_map_of_more_than_20000_vectors_draws_a_sample_and_searches_all(tmp_path):
    from core.embed.embed_output import write_embedding_output

    n = 20_300
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((n, 8)).astype(np.float32)
    texts = [f"Passage number {i}" for i in range(n)]
    write_embedding_output(tmp_path / "out", texts, vectors, model={"model_id": "test/model"}, engine="local",
                           options={}, shard_rows=8192)
    app = open_page(PAGE, proj_source="Embedded on this server", proj_server_path=str(tmp_path / "out"),
                    proj_method="pca", proj_dims=3)
    assert not app.error, [e.value for e in app.error]
    chart = [c for c in app.get("plotly_chart") if c.proto.id.endswith("proj_plot")][0]
    traces = json.loads(chart.proto.spec)["data"]
    assert {t["type"] for t in traces} == {"scatter3d"}
    rows = np.concatenate([decoded(t["customdata"]) for t in traces]).astype(int)
    assert len(rows) == 20_000 and len(set(rows.tolist())) == 20_000 and rows.min() >= 0 and rows.max() < n
    assert "draws a uniform sample of 20,000 of the 20,300" in page_text(app)
    # the neighbours of the chosen (drawn) point are sought among every vector, drawn or not
    chosen = int(app.selectbox(key="proj_pick").value)
    assert chosen in set(rows.tolist())
    cosines = [df.value for df in app.dataframe if "cosine" in df.value.columns][0]["cosine"].to_numpy()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = np.sort(np.delete(unit @ unit[chosen], chosen))[::-1][:10]
    np.testing.assert_allclose(np.sort(cosines)[::-1], expected, atol=1e-4)
