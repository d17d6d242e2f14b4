"""Plotly figures of the projections page: the sentence scatter and the token view."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.analysis.token_view import TokenView

from .labels import text_label, token_label

LARGE = 2_000          # above this many points: small markers, WebGL
HOVER_TEXT_MAX = 50_000  # above this many points the hover names the point's index instead of its text


def projection_scatter(points: np.ndarray, groups: np.ndarray, texts, *, dims: int, legend_title: str,
                       title: str) -> go.Figure:
    """One trace per group (label or cluster); each point carries its row index as customdata for selections."""
    hover = [text_label(t, 80) for t in texts]
    figure = go.Figure()
    large = len(points) > LARGE
    for group in pd.unique(groups):
        mask = groups == group
        index = np.flatnonzero(mask)
        marker = dict(size=3 if large else 8, opacity=0.6 if large else 0.85)
        common = dict(name=text_label(str(group), 30), customdata=index,
                      text=[hover[i] for i in index] if len(points) <= HOVER_TEXT_MAX else None,
                      hovertemplate=("%{text}" if len(points) <= HOVER_TEXT_MAX else "point %{customdata}")
                      + "<extra>%{fullData.name}</extra>")
        if dims == 3:
            figure.add_trace(go.Scatter3d(x=points[mask, 0], y=points[mask, 1], z=points[mask, 2], mode="markers", marker=marker,
                                          **common))
        else:
            # WebGL draws large sets smoothly; small ones as SVG for crisp markers.
            scatter = go.Scattergl if large else go.Scatter
            figure.add_trace(scatter(x=points[mask, 0], y=points[mask, 1], mode="markers", marker=marker, **common))
    figure.update_layout(height=620, margin=dict(l=10, r=10, t=30, b=10), legend_title_text=legend_title, title=title)
    return figure


def token_scatter(view: TokenView, lines) -> go.Figure:
    """Every token of a few sentences as a labelled point, coloured by sentence."""
    figure = go.Figure(go.Scatter(
        x=view.points[:, 0], y=view.points[:, 1], mode="markers+text", text=[token_label(t) for t in view.tokens],
        textposition="top center",
        marker=dict(size=9, color=list(view.sentences), colorscale="Turbo"),
        hovertext=[f"{token_label(t)} · sentence {s + 1}: {text_label(lines[s], 60)}" for t, s in zip(view.tokens, view.sentences)],
        hoverinfo="text",
    ))
    figure.update_layout(height=520, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="PC 1", yaxis_title="PC 2")
    return figure
