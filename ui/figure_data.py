"""The data behind a Plotly figure, as CSV or JSON: what the export control under every chart downloads.

Pure (no Streamlit). It reads the traces' own attributes (type, name, x, y, z, text, customdata) rather
than ``fig.to_json()``, whose arrays are base64 ``bdata`` in plotly 7.

* One heatmap alone → a wide matrix: row labels in the first column, column labels as the header.
* Anything else → a long table, one row per point: ``trace``, ``type``, ``x``, ``y``, and ``z``, ``color``
  (numbers drawn as marker colour), ``text``, ``hovertext``, ``customdata`` where some trace has them;
  heatmap cells in such a figure (subplot grids) as ``row``, ``column``, ``value``.
* JSON: the title, the axis titles, every trace with its arrays as plain lists (NaN → null), and the
  annotations' text (a figure drawn only with shapes and annotations, like the pipeline diagram, keeps its words).

Labels are written as the chart shows them (``shown_text``: the page escapes user text for Plotly, the file
holds the text itself). They are user text (tokens, sentences): the csv module quotes commas, quotes and
newlines, and a text cell that starts with ``= + - @`` (or a tab / carriage return) gets a leading ``'`` so a
spreadsheet reads it as text, not a formula (OWASP, CSV injection). Numbers are never altered.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from typing import Any

import numpy as np

from .labels import plotly_shown

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_POINT_ARRAYS = ("x", "y", "z", "text", "hovertext", "customdata")


# --- reading trace attributes ------------------------------------------------------------------

def _decode_typed_array(value: dict) -> np.ndarray:
    """plotly.js's typed-array form ``{"dtype": "f4", "bdata": "...", "shape": "2, 3"}``."""
    array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value.get("dtype", "f8")))
    shape = value.get("shape")
    if shape:
        dims = [int(part) for part in str(shape).split(",")] if not isinstance(shape, (list, tuple)) else list(shape)
        array = array.reshape(dims)
    return array


def _plain(value: Any) -> Any:
    """numpy arrays, tuples, typed arrays → nested Python lists of Python scalars; float32 values keep
    their short form (0.1234, not 0.12340000271797180)."""
    if value is None:
        return None
    if isinstance(value, dict) and "bdata" in value:
        value = _decode_typed_array(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f" and value.dtype.itemsize < 8:
            value = value.astype(str).astype(np.float64)
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return _plain(np.asarray(value)) if value.dtype.kind == "f" else value.item()
    return value


def _array(trace, name: str) -> list | None:
    """A per-point attribute as a list, or None when the trace has none (a scalar text is not per point).
    Labels come as the chart shows them (``shown_text``); customdata as it is."""
    try:
        value = trace[name]
    except (KeyError, ValueError, AttributeError):
        return None
    value = _plain(value)
    if not isinstance(value, list):
        return None
    return value if name in ("customdata", "z") else _shown(value)


def _marker_colours(trace, count: int) -> list | None:
    """Numbers mapped to colour, one per point (the value of a square in a metric matrix, a position)."""
    try:
        colours = _plain(trace.marker.color)
    except (AttributeError, KeyError, ValueError):
        return None
    if isinstance(colours, list) and len(colours) == count and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in colours):
        return colours
    return None


def _scalar_text(trace, name: str) -> str | None:
    try:
        value = trace[name]
    except (KeyError, ValueError, AttributeError):
        return None
    return shown_text(value) if isinstance(value, str) else None


def _implicit_axis(trace, axis: str, count: int) -> list:
    """Plotly's default coordinates when an axis array is missing: x0 + i·dx (0, 1, 2, … by default)."""
    try:
        start, step = trace[axis + "0"], trace["d" + axis]
    except (KeyError, ValueError, AttributeError):
        start, step = None, None
    start = 0 if start is None or isinstance(start, str) else start
    step = 1 if step is None else step
    return [start + i * step for i in range(count)]


def _title(obj) -> str | None:
    try:
        text = obj.title.text
    except AttributeError:
        return None
    return shown_text(text) if text else None


def _trace_name(trace, index: int) -> str:
    return shown_text(str(trace.name)) if trace.name not in (None, "") else f"trace {index + 1}"


def _is_heatmap(trace) -> bool:
    return trace.type in ("heatmap", "heatmapgl", "contour") and _array(trace, "z") is not None


def _matrix(trace) -> tuple[list[list], list, list]:
    """A heatmap's z as rows of values, with its row (y) and column (x) labels."""
    z = _array(trace, "z") or []
    rows = [row if isinstance(row, list) else [row] for row in z]
    n_cols = max((len(row) for row in rows), default=0)
    x = _array(trace, "x")
    y = _array(trace, "y")
    # With transpose, z is columns × rows; turn it back so that rows follow y.
    if getattr(trace, "transpose", False):
        rows = [list(column) for column in zip(*rows)]
        n_cols = len(rows[0]) if rows else 0
    x = x if x is not None and len(x) == n_cols else _implicit_axis(trace, "x", n_cols)
    y = y if y is not None and len(y) == len(rows) else _implicit_axis(trace, "y", len(rows))
    rows = [row + [None] * (n_cols - len(row)) for row in rows]
    return rows, y, x


# --- labels as the chart shows them -------------------------------------------------------------

def shown_text(text: str) -> str:
    """A label as the chart displays it (``labels.plotly_shown``, Plotly.js's own rules): its tags (<b>, <br>,
    <span …>) dropped and its entities decoded once, so the file holds the token the user typed ("<script>",
    'say "hi"'), not the escaped form the page sent to the browser ("&lt;script&gt;"). Raw newlines stay
    (the csv module quotes them); invisible characters stay in the visible form the page gave them (␣, ⟨U+200B⟩)."""
    return plotly_shown(text, keep_newlines=True)


def _shown(value: Any) -> Any:
    if isinstance(value, str):
        return shown_text(value)
    if isinstance(value, list):
        return [_shown(item) for item in value]
    return value


# --- the safe cell -----------------------------------------------------------------------------

def _cell(value: Any) -> Any:
    """One CSV cell: NaN/inf → empty, text that a spreadsheet would run as a formula → a leading ',
    lists (per-point customdata) → compact JSON."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else value
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, (list, dict)):
        value = json.dumps(_json_safe(value), ensure_ascii=False)
    value = str(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _write(rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()


# --- the public functions ----------------------------------------------------------------------

def _points(trace) -> dict[str, list]:
    """A non-heatmap trace's per-point columns, all of one length."""
    arrays = {name: _array(trace, name) for name in _POINT_ARRAYS}
    if trace.type in ("pie", "funnelarea") and arrays["x"] is None:
        arrays["x"], arrays["y"] = _array(trace, "labels"), _array(trace, "values")
    count = max((len(a) for a in arrays.values() if a is not None), default=0)
    if arrays["x"] is None and arrays["y"] is not None:
        arrays["x"] = _implicit_axis(trace, "x", len(arrays["y"]))
    if arrays["y"] is None and arrays["x"] is not None and trace.type not in ("histogram", "box", "violin"):
        arrays["y"] = _implicit_axis(trace, "y", len(arrays["x"]))
    text = arrays["text"]
    if text is None and (scalar := _scalar_text(trace, "text")):
        text = [scalar] * count
    columns = {"x": arrays["x"], "y": arrays["y"], "z": arrays["z"], "text": text, "hovertext": arrays["hovertext"],
               "customdata": arrays["customdata"], "color": _marker_colours(trace, count)}
    return {name: (values + [None] * (count - len(values)))[:count] for name, values in columns.items() if values is not None}


def figure_csv(fig) -> str:
    """The data behind ``fig`` as CSV text (see the module docstring for the two layouts)."""
    traces = list(fig.data)
    if len(traces) == 1 and _is_heatmap(traces[0]):
        rows, y, x = _matrix(traces[0])
        corner = _title(fig.layout.yaxis) or ""
        return _write([[corner, *x], *([label, *row] for label, row in zip(y, rows))])
    if not traces:
        notes = [a for a in (fig.layout.annotations or ()) if a.text]
        return _write([["annotation", "x", "y"], *([shown_text(a.text), _plain(a.x), _plain(a.y)] for a in notes)])

    records: list[dict] = []
    for index, trace in enumerate(traces):
        name = _trace_name(trace, index)
        if _is_heatmap(trace):
            rows, y, x = _matrix(trace)
            for row_label, row in zip(y, rows):
                for column_label, value in zip(x, row):
                    records.append({"trace": name, "type": trace.type, "row": row_label, "column": column_label,
                                    "value": value})
            continue
        columns = _points(trace)
        count = max((len(values) for values in columns.values()), default=0)
        for i in range(count):
            record = {"trace": name, "type": trace.type}
            record.update({key: values[i] for key, values in columns.items()})
            if all(record.get(axis) is None for axis in ("x", "y", "z")):
                continue  # the None that separates line segments
            records.append(record)

    order = ["trace", "type", "x", "y", "z", "row", "column", "value", "color", "text", "hovertext", "customdata"]
    present = [key for key in order if any(record.get(key) is not None for record in records)]
    if all(_is_heatmap(trace) for trace in traces):
        present = [key for key in present if key != "type"]
    if "trace" not in present:
        present.insert(0, "trace")
    return _write([present, *([record.get(key) for key in present] for record in records)])


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def figure_json(fig) -> str:
    """The data behind ``fig`` as JSON text: title, axis titles, traces with plain arrays (NaN → null)."""
    traces = []
    for index, trace in enumerate(fig.data):
        entry: dict[str, Any] = {"name": _trace_name(trace, index), "type": trace.type}
        if _is_heatmap(trace):
            rows, y, x = _matrix(trace)
            entry.update({"x": x, "y": y, "z": rows})
            text = _array(trace, "text")
            if text is not None:
                entry["text"] = text
        else:
            entry.update(_points(trace))
        traces.append(entry)
    layout = fig.layout
    axes = {}
    for key in sorted(name for name in layout.to_plotly_json() if name.startswith(("xaxis", "yaxis", "scene"))):
        title = _title(layout[key]) if not key.startswith("scene") else None
        if title:
            axes[key] = title
    document = {
        "title": _title(layout),
        "axis_titles": axes,
        "traces": traces,
        "annotations": [shown_text(a.text) for a in (layout.annotations or ()) if a.text],
    }
    return json.dumps(_json_safe(document), ensure_ascii=False, allow_nan=False)
