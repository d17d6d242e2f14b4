"""Export of every figure: the data behind it as CSV / JSON (ui.figure_data), PNG / SVG rendered by kaleido,
and the Export popover under every chart of every page (ui.export.show_figure)."""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from ui import attention_views, ffn_views, position_views
from ui.export import ExportFailed, _deferred, chromium_path, render_image, safe_file_name
from ui.figure_data import figure_csv, figure_json, shown_text
from ui.figures import heatmap, matrix_grid, token_by_token, token_heatmap, vector_bar
from ui.labels import unique_labels, visible

APP = str(Path(__file__).resolve().parent.parent / "app.py")
HOSTILE_LABELS = [
    "a,b", 'say "hi"', "line\nbreak", "<script>alert(1)</script>", "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A9)",
    "e\u0301 \u202etxt\u202c 👍", "tab\there",
]


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def spreadsheet_text(label: str) -> str:
    """What a CSV cell holds for a text label: a leading ' where a spreadsheet would see a formula."""
    return "'" + label if label[:1] in ("=", "+", "-", "@", "\t", "\r") else label


def strict_json(text: str):
    def no_constants(name):
        raise AssertionError(f"{name} in JSON")

    return json.loads(text, parse_constant=no_constants)


# --- CSV / JSON from the figure builders ----------------------------------------------------------

def test_one_heatmap_is_a_wide_matrix_of_its_values_and_labels():
    values = np.array([[0.12345, -1.5, np.nan], [2.0, 0.25, -0.0001], [1e-5, 3.75, 9.5]], dtype=np.float32)
    tokens = ["[CLS]", "cat", "cat"]
    fig = token_by_token(values, tokens)
    rows = rows_of(figure_csv(fig))
    labels = ["[CLS]", "cat (1)", "cat (2)"]
    assert rows[0] == ["query", *labels]
    assert [row[0] for row in rows[1:]] == labels
    expected = np.round(values, 4)
    for row, want in zip(rows[1:], expected):
        got = [float(cell) if cell else np.nan for cell in row[1:]]
        np.testing.assert_array_equal(np.asarray(got, dtype=np.float32), want)
    assert rows[1][3] == ""  # NaN → empty cell
    frame = pd.read_csv(io.StringIO(figure_csv(fig)), index_col=0)
    assert list(frame.columns) == labels and list(frame.index) == labels
    np.testing.assert_allclose(frame.to_numpy(), np.round(values, 4), rtol=0, atol=1e-7)


def test_heatmap_values_keep_their_short_form():
    fig = heatmap(np.array([[0.1234, 0.3]], dtype=np.float32))
    assert figure_csv(fig).splitlines()[1] == "0,0.1234,0.3"  # no 0.12340000271797180


def test_bars_and_lines_are_a_long_table():
    vector = np.array([0.5, -0.25, np.nan, 1.0], dtype=np.float32)
    rows = rows_of(figure_csv(vector_bar(vector)))
    assert rows[0] == ["trace", "type", "x", "y"]
    assert [row[2] for row in rows[1:]] == ["0", "1", "2", "3"]
    assert [row[3] for row in rows[1:]] == ["0.5", "-0.25", "", "1.0"]  # a negative number is not "escaped"
    data = strict_json(figure_json(vector_bar(vector)))
    assert data["traces"][0]["y"] == [0.5, -0.25, None, 1.0]
    assert data["traces"][0]["x"] == [0, 1, 2, 3] and data["traces"][0]["type"] == "bar"


def test_scatter_with_customdata_from_the_positional_page():
    from core.analysis.positional import dot_products, offset_profile, sinusoidal_encoding

    profile = offset_profile(dot_products(sinusoidal_encoding(12, 16)))
    fig = position_views.offset_figure(profile, title="Sinusoids: dot product by distance", y_title="PE[m]·PE[n]")
    frame = pd.read_csv(io.StringIO(figure_csv(fig)))
    assert list(frame.columns) == ["trace", "type", "x", "y", "customdata"]
    keep = profile.offsets >= 0
    np.testing.assert_array_equal(frame["x"], profile.offsets[keep])
    np.testing.assert_allclose(frame["y"], np.round(profile.mean[keep], 4))
    np.testing.assert_allclose(frame["customdata"], np.round(profile.spread[keep], 6))
    data = strict_json(figure_json(fig))
    assert data["title"] == "Sinusoids: dot product by distance"
    assert data["axis_titles"] == {"xaxis": "offset between the two positions", "yaxis": "PE[m]·PE[n]"}


def test_subplot_grid_is_trace_row_column_value():
    labels = ["1. a cat", "2. a dog"]
    matrices = {"CLS": np.array([[1.0, 0.2], [0.2, 1.0]]), "mean (native)": np.array([[1.0, -0.5], [-0.5, 1.0]])}
    fig = matrix_grid(matrices, labels)
    frame = pd.read_csv(io.StringIO(figure_csv(fig)))
    assert list(frame.columns) == ["trace", "row", "column", "value"]
    assert len(frame) == 8 and list(pd.unique(frame["trace"])) == ["CLS", "mean (native)"]
    cell = frame[(frame["trace"] == "mean (native)") & (frame["row"] == "1. a cat") & (frame["column"] == "2. a dog")]
    assert cell["value"].item() == -0.5
    data = strict_json(figure_json(fig))
    assert [t["name"] for t in data["traces"]] == ["CLS", "mean (native)"]
    assert data["traces"][1]["z"] == [[1.0, -0.5], [-0.5, 1.0]] and data["traces"][1]["y"] == labels


def test_matrix_grid_numbers_rows_and_prints_values_for_small_sets():
    labels = [f"{i + 1}. sentence {i + 1}" for i in range(3)]
    matrices = {"A": np.eye(3), "B": np.full((3, 3), 0.5)}
    fig = matrix_grid(matrices, labels, tick_text=range(1, 4))
    assert fig.layout.xaxis.showticklabels and list(fig.layout.xaxis.ticktext) == ["1", "2", "3"]
    assert list(fig.layout.yaxis2.tickvals) == labels and fig.layout.yaxis2.autorange == "reversed"
    assert all(trace.texttemplate == "%{z:.2f}" for trace in fig.data)
    many = [str(i) for i in range(11)]
    big = matrix_grid({"A": np.eye(11)}, many, tick_text=range(1, 12))
    assert big.data[0].texttemplate is None and big.layout.xaxis.showticklabels  # numbers stay, values go to hover
    plain = matrix_grid(matrices, labels)
    assert plain.layout.xaxis.showticklabels is False  # callers without tick_text keep the old look


@pytest.fixture(scope="module")
def traced(bundled):
    from core import trace_text

    return trace_text(bundled, "The cat sat on the mat, unhappily.")


def test_attention_figures_from_a_real_trace(traced):
    from core.analysis.attention_stats import head_overview, worked_attention

    layer = traced.layers[2]
    labels = unique_labels(traced.tokens.tokens)
    n_heads = layer.attention_probs.shape[0]
    grid = attention_views.head_grid(layer.attention_probs, labels, labels,
                                     head_names=[f"head {h + 1}" for h in range(n_heads)], selected=1,
                                     columns=6 if n_heads > 8 else 4)  # as the page draws it
    frame = pd.read_csv(io.StringIO(figure_csv(grid)), keep_default_na=False)
    assert list(frame.columns) == ["trace", "row", "column", "value"]
    n = len(labels)
    assert len(frame) == n_heads * n * n
    head2 = frame[frame["trace"] == "head 2"]["value"].to_numpy(dtype=np.float64).reshape(n, n)
    np.testing.assert_allclose(head2, np.round(layer.attention_probs[1].astype(np.float32), attention_views.DECIMALS), atol=1e-6)

    big = attention_views.attention_map(layer.attention_probs[1], labels, labels)
    wide = pd.read_csv(io.StringIO(figure_csv(big)), index_col=0, keep_default_na=False)
    np.testing.assert_allclose(wide.to_numpy(dtype=np.float64), head2, atol=1e-6)

    metric = head_overview(traced)[0]
    overview = attention_views.overview_matrix(metric, selected=(2, 1))
    squares = pd.read_csv(io.StringIO(figure_csv(overview)))
    first = squares[squares["trace"] == "trace 1"]
    assert len(first) == metric.values.size
    np.testing.assert_allclose(first["color"], np.round(metric.values.ravel(), 3))  # the number each square shows

    worked = worked_attention(layer, 1, 2)
    scores = strict_json(figure_json(attention_views.worked_scores(worked, labels)))
    assert len(scores["traces"]) == len(attention_views.worked_scores(worked, labels).data)
    assert {t["type"] for t in scores["traces"]} >= {"bar"}


def test_worked_scores_put_both_zeros_at_one_height(traced):
    from core.analysis.attention_stats import worked_attention

    labels = unique_labels(traced.tokens.tokens)
    for layer_index, head, query in [(2, 1, 2), (0, 0, 1), (5, 11, 8)]:
        worked = worked_attention(traced.layers[layer_index], head, query)
        fig = attention_views.worked_scores(worked, labels)
        left, right = list(fig.layout.yaxis.range), list(fig.layout.yaxis2.range)

        def zero_height(span):
            return -span[0] / (span[1] - span[0])  # where 0 sits, as a share of the plot's height

        assert zero_height(left) == pytest.approx(zero_height(right), abs=1e-9)
        assert left[0] <= np.nanmin(worked.scores) and left[1] >= np.nanmax(worked.scores)
        assert right[0] <= 0 and right[1] >= 1 and min(fig.layout.yaxis2.tickvals) == 0  # no negative weight ticks
    left, right = attention_views.aligned_zero_ranges(np.array([1.0, 2.0, np.nan]))
    assert left[0] == 0 and right[0] == 0  # all scores positive: both axes start at zero
    left, right = attention_views.aligned_zero_ranges(np.array([-3.0, -1.0]))
    assert left[1] > 0 and right[1] == 1.05 and -left[0] / left[1] == pytest.approx(-right[0] / right[1])


@pytest.mark.parametrize("rows", [9, 40])
def test_heatmap_prints_every_row_label_up_to_forty_rows(rows):
    labels = [f"{i}: tok{i}" for i in range(rows)]
    fig = heatmap(np.zeros((rows, 4)), y_labels=labels, height=300)
    assert list(fig.layout.yaxis.tickvals) == labels and list(fig.layout.yaxis.ticktext) == labels
    many = heatmap(np.zeros((41, 4)), y_labels=[str(i) for i in range(41)])
    assert many.layout.yaxis.tickvals is None  # beyond that Plotly picks the labels it has room for


def test_feed_forward_figures_from_a_real_trace(traced):
    from core.analysis.ffn_stats import most_active_neurons, residual_stream

    acts = traced.layers[0].ffn_activations
    neurons = most_active_neurons(acts, 5)
    fig = ffn_views.activation_heatmap(acts[:, neurons], traced.tokens.tokens, neurons)
    rows = rows_of(figure_csv(fig))
    assert len(rows) == len(traced.tokens) + 1 and len(rows[0]) == neurons.size + 1
    stream = residual_stream(traced)
    norms = ffn_views.residual_norms(stream, traced.tokens.tokens, shown=np.arange(3))
    data = strict_json(figure_json(norms))
    assert len(data["traces"]) == len(norms.data) and all(isinstance(t["y"], list) for t in data["traces"])


def test_hostile_labels_are_quoted_and_never_formulas():
    values = np.arange(len(HOSTILE_LABELS) * 2, dtype=np.float32).reshape(len(HOSTILE_LABELS), 2) - 3
    fig = heatmap(values, y_labels=HOSTILE_LABELS, x_labels=["=1+1", "plain"])
    text = figure_csv(fig)
    rows = rows_of(text)
    assert rows[0][1:] == ["'=1+1", "plain"]
    assert [row[0] for row in rows[1:]] == [spreadsheet_text(label) for label in HOSTILE_LABELS]
    assert [row[1] for row in rows[1:]][:3] == ["-3.0", "-1.0", "1.0"]  # numbers stay numbers
    assert "\n'=cmd" in text.replace("\r\n", "\n")  # the formula cell starts with ' on its own line

    # The same tokens through the pages' path: escaped and made visible for Plotly; the file holds what is shown.
    tokens = list(HOSTILE_LABELS)
    fig = token_heatmap(values, tokens)
    assert any("&lt;script&gt;" in label for label in fig.data[0].y)  # what the page sends to the browser
    rows = rows_of(figure_csv(fig))
    assert [row[0] for row in rows[1:]] == [spreadsheet_text(visible(token)) for token in tokens]
    assert "<script>alert(1)</script>" in [row[0] for row in rows[1:]]

    bars = go.Figure(go.Bar(x=HOSTILE_LABELS, y=np.ones(len(HOSTILE_LABELS)), text=HOSTILE_LABELS, name='a "b", c'))
    frame = pd.read_csv(io.StringIO(figure_csv(bars)), keep_default_na=False)
    assert list(frame["x"]) == [spreadsheet_text(label) for label in HOSTILE_LABELS]
    assert set(frame["trace"]) == {'a "b", c'}
    data = strict_json(figure_json(bars))
    assert data["traces"][0]["x"] == HOSTILE_LABELS  # JSON is data, not a spreadsheet: no prefix


def test_json_has_title_plain_lists_and_null_for_nan():
    fig = heatmap(np.array([[np.nan, 1.0], [np.inf, -np.inf]], dtype=np.float32), title="<b>weights</b> &amp; more")
    data = strict_json(figure_json(fig))
    assert data["title"] == "weights & more"
    assert data["traces"][0]["z"] == [[None, 1.0], [None, None]]
    assert data["traces"][0]["x"] == [0, 1]


def test_a_figure_read_back_from_plotly_json_gives_the_same_data():
    fig = token_by_token(np.random.default_rng(0).random((4, 4), dtype=np.float32), ["a", "b", "c", "d"])
    again = go.Figure(json.loads(fig.to_json()))  # plotly 7 writes typed arrays as base64 bdata
    assert figure_csv(again) == figure_csv(fig)
    from ui.figure_data import _plain

    assert _plain(json.loads(fig.to_json())["data"][0]["z"]) == _plain(fig.data[0].z)


def test_a_figure_of_shapes_and_annotations_keeps_its_words():
    fig = go.Figure()
    fig.add_annotation(x=0.5, y=0.7, text="<b>1 · tokens</b>", showarrow=False)
    fig.add_annotation(x=0.5, y=0.3, text="9 tokens", showarrow=False)
    fig.add_annotation(x=1, y=0.5, ax=0.8, ay=0.5, text="", showarrow=True)
    assert rows_of(figure_csv(fig)) == [["annotation", "x", "y"], ["1 · tokens", "0.5", "0.7"], ["9 tokens", "0.5", "0.3"]]
    assert strict_json(figure_json(fig))["annotations"] == ["1 · tokens", "9 tokens"]


def test_shown_text_drops_plotly_tags_but_keeps_other_angle_brackets():
    assert shown_text("<b>head 3 ▼</b>") == "head 3 ▼"
    assert shown_text("a<br>b") == "a b"
    assert shown_text("&lt;img src=x&gt;") == "<img src=x>"
    assert shown_text("<script>x</script>") == "<script>x</script>"


# --- ui.export ----------------------------------------------------------------------------------

def test_file_names_are_safe():
    assert safe_file_name("attention-layer3-head2") == "attention-layer3-head2"
    assert safe_file_name("../../etc/passwd") == "etc-passwd"
    assert safe_file_name("a b/c\\d:e*f?\"<>|") == "a-b-c-d-e-f"
    assert safe_file_name("…") == "figure" and len(safe_file_name("x" * 500)) == 80


def test_a_failed_export_raises_a_short_error_and_logs_one_line(caplog):
    def broken():
        raise RuntimeError("secret internals /home/app/…")

    with caplog.at_level(logging.WARNING, logger="explorer.export"), pytest.raises(ExportFailed) as raised:
        _deferred(broken, "chart.png")()
    assert "secret" not in str(raised.value) and raised.value.__cause__ is None
    assert "chart.png" in caplog.text and "RuntimeError" in caplog.text
    assert _deferred(lambda: b"ok", "x.csv")() == b"ok"


def _two_charts_page():
    import numpy as np
    import plotly.graph_objects as go
    import streamlit as st

    from ui.export import show_figure

    left, right = st.columns(2)
    show_figure(go.Figure(go.Bar(y=[1, 2])), key="one", name="bars: one", container=left)
    show_figure(go.Figure(go.Bar(y=[3, 4])), key="two", name="bars two", container=right)
    event = show_figure(go.Figure(go.Scatter(x=np.arange(3), y=[1, 2, 3], mode="markers")), key="pick", name="pick",
                        on_select="rerun", selection_mode="points")
    st.session_state["event_type"] = type(event).__name__
    show_figure(go.Figure(go.Bar(y=[1])), key="static", name="diagram", config={"staticPlot": True})


def _export_buttons(app) -> dict[str, object]:
    return {button.key: button for button in app.get("download_button")}


def test_every_chart_gets_its_own_export_popover():
    app = AppTest.from_function(_two_charts_page, default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    charts = app.get("plotly_chart")
    assert len(charts) == 4
    popovers = app.get("popover")
    assert len(popovers) == 4 and {p.proto.popover.label for p in popovers} == {"Export"}
    buttons = _export_buttons(app)
    for key in ("one", "two", "pick", "static"):
        assert [buttons[f"{key}__export_{fmt}"].label for fmt in ("png", "svg", "csv", "json")] == [
            "PNG image", "SVG image", "CSV data", "JSON data"]
    for chart in charts:
        config = json.loads(chart.proto.config)
        assert config["displaylogo"] is False and config["toImageButtonOptions"]["scale"] == 2
    configs = {json.loads(c.proto.config)["toImageButtonOptions"]["filename"]: json.loads(c.proto.config) for c in charts}
    assert set(configs) == {"bars-one", "bars-two", "pick", "diagram"}
    assert configs["diagram"]["staticPlot"] is True
    assert app.session_state["event_type"] != "DeltaGenerator"  # the selection state comes back, not an element


def test_without_chromium_png_and_svg_are_off_and_say_why(monkeypatch):
    import ui.export

    monkeypatch.setattr(ui.export, "chromium_path", lambda: None)
    app = AppTest.from_function(_two_charts_page, default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    buttons = _export_buttons(app)
    for fmt in ("png", "svg"):
        assert buttons[f"one__export_{fmt}"].proto.disabled
        assert "no Chromium" in buttons[f"one__export_{fmt}"].help
        assert "camera icon" in buttons[f"one__export_{fmt}"].help
        assert "camera icon" not in buttons[f"static__export_{fmt}"].help  # a static chart has no toolbar
    for fmt in ("csv", "json"):
        assert not buttons[f"one__export_{fmt}"].proto.disabled


def test_image_export_styles_a_copy_and_leaves_the_page_figure_alone():
    from ui.export import STREAMLIT_COLORWAY, styled_for_export

    fig = heatmap(np.eye(3, dtype=np.float32), x_labels=["a", "b", "c"], y_labels=["a", "b", "c"])
    before = fig.to_json()
    styled = styled_for_export(fig)
    assert fig.to_json() == before
    assert styled.layout.yaxis.automargin is True and list(styled.layout.colorway) == STREAMLIT_COLORWAY
    assert styled.layout.template.layout.plot_bgcolor == "white"


def test_kaleido_renders_png_and_svg():
    if chromium_path() is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium): kaleido cannot render PNG/SVG")
    fig = vector_bar(np.array([0.5, -0.25, 1.0], dtype=np.float32), title="Kaleido check <b>bold</b>")
    started = time.perf_counter()
    svg = render_image(fig, "svg")
    svg_seconds = time.perf_counter() - started
    png = render_image(fig, "png")
    assert svg.lstrip().startswith(b"<svg") and b"Kaleido check" in svg
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
    width = int.from_bytes(png[16:20], "big")
    assert width == 1200 * 2  # IMAGE_WIDTH at scale 2
    print(f"kaleido: svg {svg_seconds:.1f} s")


# --- every page: an Export popover under every chart ----------------------------------------------

PAGES = {
    "pages/embedding_lookup.py": {},
    "pages/positional_encoding.py": {},
    "pages/attention.py": {},
    "pages/feed_forward.py": {},
    "pages/pooling.py": {},
    "pages/contrastive.py": {},
    "pages/pipeline.py": {},
    "pages/projections.py": {"proj_method": "pca"},
    "pages/retrieval.py": {},
}


def _check_exports(app, where: str) -> int:
    charts = app.get("plotly_chart")
    popovers = [p for p in app.get("popover") if p.proto.popover.label == "Export"]
    assert len(popovers) >= len(charts), (where, len(popovers), len(charts))
    csv_keys = [key.removesuffix("__export_csv") for key in _export_buttons(app) if key.endswith("__export_csv")]
    for chart in charts:
        assert any(key in chart.proto.id for key in csv_keys), (where, chart.proto.id)  # its own, by its key
        name = json.loads(chart.proto.config)["toImageButtonOptions"]["filename"]
        assert name == safe_file_name(name) and name != "figure", (where, name)
    return len(charts)


def test_every_page_draws_an_export_popover_under_every_chart():
    app = AppTest.from_file(APP, default_timeout=300)
    app.run()
    assert not app.exception, app.exception
    counts = {"home": _check_exports(app, "home")}
    for page, state in PAGES.items():
        for key, value in state.items():
            app.session_state[key] = value
        app.switch_page(page).run()
        assert not app.exception, (page, app.exception)
        counts[page] = _check_exports(app, page)
    assert all(count >= 1 for count in counts.values()), counts
    assert sum(counts.values()) >= 35, counts


def test_exported_images_keep_a_heatmaps_shape_and_get_a_title():
    import plotly.graph_objects as go

    from ui.export import export_size, styled_for_export

    square = go.Figure(go.Heatmap(z=np.ones((9, 9))), layout=dict(height=420))
    width, height = export_size(square)
    assert height == 420 and 480 <= width <= 700  # not a 1200-px-wide strip
    bars = go.Figure(go.Bar(y=[1, 2, 3]), layout=dict(height=300))
    assert export_size(bars) == (1200, 300)
    titled = styled_for_export(square, "attention layer3 head5 <b>")
    assert titled.layout.title.text == "attention layer3 head5 &lt;b&gt;"
    own = go.Figure(go.Bar(y=[1]), layout=dict(title="Kept"))
    assert styled_for_export(own, "other").layout.title.text == "Kept"
