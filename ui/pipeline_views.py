"""Plotly figures of the end-to-end page: the stage diagram."""

from __future__ import annotations

import plotly.graph_objects as go


def stage_diagram(boxes: list[tuple[str, str]]) -> go.Figure:
    """One box per (title, shape), left to right, joined by arrows."""
    figure = go.Figure()
    for index, (title, shape) in enumerate(boxes):
        figure.add_shape(type="rect", x0=index * 1.2, x1=index * 1.2 + 1, y0=0, y1=1, line=dict(color="#3d6fb6"), fillcolor="#eef4fb")
        figure.add_annotation(x=index * 1.2 + 0.5, y=0.68, text=f"<b>{title}</b>", showarrow=False, font=dict(size=13))
        figure.add_annotation(x=index * 1.2 + 0.5, y=0.32, text=shape, showarrow=False, font=dict(size=12, color="#444"))
        if index:
            figure.add_annotation(x=index * 1.2, y=0.5, ax=index * 1.2 - 0.2, ay=0.5, xref="x", yref="y", axref="x", ayref="y",
                                  showarrow=True, arrowhead=3, text="")
    figure.update_xaxes(visible=False, range=[-0.1, len(boxes) * 1.2])
    figure.update_yaxes(visible=False, range=[-0.1, 1.1])
    figure.update_layout(height=160, margin=dict(l=0, r=0, t=0, b=0), plot_bgcolor="white")
    return figure
