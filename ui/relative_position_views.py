"""The positional page's view of a relative-bias model (T5; MPNet's bias uses the same buckets): no
position rows, no rotation, only a learned number per head added to the score of every (query, key)
pair, looked up by the bucket of their offset. Numbers come from ``core.analysis.positional``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.analysis.positional import RelativeBuckets, relative_buckets
from core.trace.data import Trace

from .export import show_figure
from .figures import heatmap
from .labels import e_notation_meaning
from .tables import show_table

MAX_HEADS_DRAWN = 4  # lines in the bias-by-offset figure (a table below lists every head)


def bucket_map_figure(buckets: RelativeBuckets, *, height: int | None = None) -> go.Figure:
    """[n, n] the bucket of every (query, key) pair of this text: constant along each diagonal."""
    n = buckets.buckets.shape[0]
    figure = heatmap(buckets.buckets, x_title="key position", y_title="query position", colorscale="Viridis", zmid=None,
                     zmin=0, zmax=buckets.num_buckets - 1, decimals=0, height=height or min(700, max(300, 12 * n + 120)),
                     hover="query %{y} · key %{x}: bucket %{z}")
    figure.update_traces(colorbar=dict(title="bucket", thickness=12))
    return figure


def bias_by_offset_figure(buckets: RelativeBuckets, heads) -> go.Figure:
    """Each chosen head's (0-based index, labelled from 1 as the attention page does) learned bias against the
    offset key − query: flat wherever offsets share a bucket."""
    figure = go.Figure()
    for head in heads:
        values = np.round(buckets.table[buckets.offset_buckets, head].astype(np.float64), 4)
        figure.add_trace(go.Scatter(
            x=buckets.offsets, y=values, mode="lines+markers", line_shape="hvh", marker=dict(size=4),
            name=f"head {head + 1}", customdata=buckets.offset_buckets,
            hovertemplate="offset %{x} (bucket %{customdata}): bias %{y:.4f}<extra>%{fullData.name}</extra>",
        ))
    figure.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="offset (key position − query position)",
                         yaxis_title="bias added to the score", legend=dict(orientation="h", y=1.12))
    return figure


def bucket_table(buckets: RelativeBuckets) -> pd.DataFrame:
    """One row per bucket this text uses: its offsets and each head's learned bias."""
    rows = []
    for bucket, low, high in buckets.bucket_spans():
        row = {"bucket": bucket, "offsets": str(low) if low == high else f"{low} … {high}"}
        for head in range(buckets.table.shape[1]):
            row[f"head {head + 1}"] = float(np.round(buckets.table[bucket, head], 4))
        rows.append(row)
    return pd.DataFrame(rows)


def show_relative_buckets(trace: Trace, explorer, *, key: str = "pos_rel") -> None:
    """The whole view for the loaded model and this text (draws nothing for a model without a bias table)."""
    buckets = relative_buckets(explorer, trace.n_tokens)
    if buckets is None:
        return
    n, heads = trace.n_tokens, buckets.table.shape[1]
    side = "on each side (keys before and after the query)" if buckets.bidirectional else "looking back"
    per_side = buckets.num_buckets // 2 if buckets.bidirectional else buckets.num_buckets
    opening = ("This model adds no position vector to the tokens. Instead, in"
               if trace.model.position_kind == "relative" else "Besides its position rows, in")  # MPNet has both
    st.markdown(
        f"{opening} every attention layer each of its {heads} heads adds a learned number to the score q·k of every "
        "pair (query i, key j), chosen by the **offset** j − i. "
        f"Offsets are grouped into {buckets.num_buckets} buckets, {per_side} {side}: offsets smaller than "
        f"{buckets.exact_offsets} in size each get a bucket of their own, larger ones share buckets that widen on a log "
        f"scale, and every offset of {buckets.max_distance} or more shares the last bucket of its side. So the model "
        "knows exactly how far apart two close tokens are, and only roughly how far apart two distant ones are."
    )
    show_figure(bucket_map_figure(buckets), key=f"{key}_map", name="relative-position-buckets")
    st.caption(f"The bucket of each of the {n} × {n} pairs of your text: the same along every diagonal (same offset), "
               "since only the distance counts, never where the pair stands.")
    shown = list(range(min(heads, MAX_HEADS_DRAWN)))
    show_figure(bias_by_offset_figure(buckets, shown), key=f"{key}_bias", name="relative-position-bias-by-offset")
    show_table(bucket_table(buckets), hide_index=True, width="stretch")
    difference = buckets.largest_difference([layer.attention_bias for layer in trace.layers])
    shared = " (computed once, in layer 1, and reused by every layer)" if trace.model.position_kind == "relative" else ""
    st.caption(
        f"The learned table has {buckets.num_buckets} rows × {heads} heads{shared}. Looked up here for every pair, it "
        + ("equals exactly" if difference == 0 else
           f"matches to within {difference:.1e} ({e_notation_meaning(difference).split(' means ')[1]}"
           + (": float rounding)" if difference < 1e-4 else ")"))
        + " the bias the model added to its attention scores for your text, in every layer."
        if np.isfinite(difference) else
        f"The learned table has {buckets.num_buckets} rows × {heads} heads{shared}."
    )
