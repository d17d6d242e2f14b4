"""Figures of the feed-forward page. Token labels go through ``labels.unique_labels``
(escaped once for Plotly, invisible characters made visible); values are rounded before they are sent."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.analysis.colour_scale import colour_cap
from core.analysis.ffn_stats import FFNShape, ResidualStream

from .figures import heatmap
from .labels import unique_labels



def _r(values, decimals: int = 4) -> np.ndarray:
    return np.round(np.asarray(values, dtype=np.float32), decimals)


def ffn_diagram(shape: FFNShape) -> str:
    """The FFN of one layer as a Graphviz graph (numbers only, from the loaded model)."""
    d, f, act = f"{shape.d_model:,}", f"{shape.d_ff:,}", shape.activation_label
    # Gemma normalises the FFN's output before the residual add: one more box between W_down and the output
    norm_node = f'\n  norm [label="{shape.output_norm}\\n(on the output)"];' if shape.output_norm else ""
    after_down = "norm -> out" if shape.output_norm else "out"
    node = 'node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, color="#5b7db1", fillcolor="#eef4fb"];'
    if shape.gated:
        return f"""digraph ffn {{
  rankdir=LR; bgcolor="transparent"; {node}
  x [label="token vector\\n{d}"];
  gate [label="W_gate\\n{d} → {f}"]; up [label="W_up\\n{d} → {f}"];
  act [label="{act}\\n(non-linearity)", fillcolor="#fff5e6", color="#e08a00"];
  mul [label="×", shape=circle, fixedsize=true, width=0.45, fontsize=16, fillcolor="#fff5e6", color="#e08a00"];
  down [label="W_down\\n{f} → {d}"];{norm_node}
  out [label="FFN output\\n{d}\\n(added to the stream)"];
  x -> gate -> act -> mul; x -> up -> mul; mul -> down [label=" {f}", fontsize=10]; down -> {after_down};
}}"""
    return f"""digraph ffn {{
  rankdir=LR; bgcolor="transparent"; {node}
  x [label="token vector\\n{d}"];
  up [label="W_in (expand)\\n{d} → {f}"];
  act [label="{act}\\n(non-linearity)\\n{f}", fillcolor="#fff5e6", color="#e08a00"];
  down [label="W_out (project back)\\n{f} → {d}"];{norm_node}
  out [label="FFN output\\n{d}\\n(added to the stream)"];
  x -> up -> act -> down -> {after_down};
}}"""


def activation_heatmap(values: np.ndarray, tokens, neurons: np.ndarray) -> go.Figure:
    """Tokens × chosen neurons, colour centred on 0."""
    # One outlier neuron (often on [CLS]) would wash every other cell out: the colours saturate at the
    # 99th percentile of |activation| and the hover keeps the true value (to 3 decimals).
    top = colour_cap(values).limit
    n = values.shape[0]
    figure = heatmap(values, x_labels=[f"n{int(i)}" for i in neurons], y_labels=unique_labels(tokens),
                     colorscale="RdBu_r", zmid=0.0, x_title="neuron (the layer's most active, strongest first)",
                     hover="%{y} · neuron %{x}: %{z:.3f}", decimals=3, height=int(min(900, max(280, 14 * n + 140))))
    figure.update_traces(zmin=-top, zmax=top, zmid=None, colorbar=dict(title="activation", thickness=12))
    figure.update_xaxes(tickangle=-60, tickfont=dict(size=9))
    figure.update_yaxes(showticklabels=n <= 80, tickfont=dict(size=9 if n > 30 else 11))
    return figure


def near_zero_bars(shares: np.ndarray, selected: int | None, eps: float) -> go.Figure:
    layers = [f"layer {i + 1}" for i in range(shares.size)]
    colours = ["#e4572e" if i == selected else "#5b7db1" for i in range(shares.size)]
    figure = go.Figure(go.Bar(x=layers, y=_r(shares), marker_color=colours,
                              hovertemplate="%{x}: %{y:.1%} of activations with |a| < " + f"{eps:g}<extra></extra>"))
    figure.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), yaxis=dict(tickformat=".0%", range=[0, 1]),
                         yaxis_title="share near zero")
    return figure


def activation_histogram_figure(counts: np.ndarray, edges: np.ndarray, eps: float) -> go.Figure:
    centres = (edges[:-1] + edges[1:]) / 2
    figure = go.Figure(go.Bar(x=_r(centres, 3), y=counts, width=float(edges[1] - edges[0]), marker_color="#5b7db1",
                              hovertemplate="around %{x:.3f}: %{y:,} activations<extra></extra>"))
    figure.add_vrect(x0=-eps, x1=eps, fillcolor="#e4572e", opacity=0.2, line_width=0,
                     annotation_text="near zero", annotation_position="top left")
    figure.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="activation value",
                         yaxis_title="count", bargap=0)
    return figure


def neuron_bars(neurons: np.ndarray, values: np.ndarray, *, title: str = "") -> go.Figure:
    names = [f"n{int(i)}" for i in neurons]
    figure = go.Figure(go.Bar(x=_r(values, 3), y=names, orientation="h", marker_color="#5b7db1",
                              hovertemplate="neuron %{y}: %{x:.3f}<extra></extra>"))
    figure.update_layout(title=title or None, height=max(220, 22 * len(names) + 70),
                         margin=dict(l=10, r=10, t=40 if title else 10, b=10), xaxis_title="activation")
    figure.update_yaxes(autorange="reversed", type="category")
    return figure


def neuron_over_tokens(values: np.ndarray, tokens, *, highlight: np.ndarray) -> go.Figure:
    """One neuron's activation on every token of the text, the top tokens highlighted."""
    labels = unique_labels(tokens)
    colours = np.where(np.isin(np.arange(len(labels)), highlight), "#e4572e", "#9db4d3")
    figure = go.Figure(go.Bar(x=labels, y=_r(values, 3), marker_color=list(colours),
                              hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
    figure.update_layout(height=280, margin=dict(l=10, r=10, t=10, b=10), yaxis_title="activation", bargap=0.1)
    figure.update_xaxes(type="category", tickangle=-60, showticklabels=len(labels) <= 80)
    return figure


def residual_norms(stream: ResidualStream, tokens, *, shown: np.ndarray) -> go.Figure:
    """‖x‖ of each shown token after every sub-layer (lines), with the mean over all tokens (dashed)."""
    labels = unique_labels(tokens)
    stages = list(stream.stages)
    figure = go.Figure()
    for t in shown:
        figure.add_trace(go.Scatter(x=stages, y=_r(stream.norms[:, t], 3), mode="lines+markers", name=labels[t],
                                    line=dict(width=1.5), marker=dict(size=5),
                                    # the token enters as the trace name, not as template text: a token like %{y} stays text
                                    hovertemplate="%{fullData.name} · %{x}: ‖x‖ = %{y:.3f}<extra></extra>"))
    figure.add_trace(go.Scatter(x=stages, y=_r(stream.norms.mean(1), 3), mode="lines", name="mean of all tokens",
                                line=dict(color="black", dash="dash", width=2.5),
                                hovertemplate="mean · %{x}: %{y:.3f}<extra></extra>"))
    figure.update_layout(height=380, margin=dict(l=10, r=10, t=10, b=10), yaxis_title="vector norm ‖x‖",
                         legend=dict(font=dict(size=10)))
    figure.update_xaxes(type="category", tickangle=-45)
    return figure


def change_heatmap(values: np.ndarray, tokens, *, title: str, zmax: float) -> go.Figure:
    """[L, T] relative change → tokens × layers heatmap."""
    n = values.shape[1]
    figure = heatmap(values.T, x_labels=[f"L{i + 1}" for i in range(values.shape[0])], y_labels=unique_labels(tokens),
                     title=title, colorscale="Oranges", zmid=None, zmin=0.0, zmax=max(zmax, 1e-6), x_title="layer",
                     hover="%{y} · %{x}: changed by %{z:.1%}", decimals=3,
                     height=int(min(900, max(280, 14 * n + 140))))
    figure.update_traces(colorbar=dict(title="change", tickformat=".0%", thickness=12))
    figure.update_yaxes(showticklabels=n <= 80, tickfont=dict(size=9 if n > 30 else 11))
    return figure


def layer_change_bars(stream: ResidualStream) -> go.Figure:
    layers = [f"layer {i + 1}" for i in range(stream.n_layers)]
    figure = go.Figure()
    figure.add_trace(go.Bar(x=layers, y=_r(stream.attention_update.mean(1), 3), name="attention",
                            marker_color="#5b7db1", hovertemplate="%{x} · attention: %{y:.1%}<extra></extra>"))
    figure.add_trace(go.Bar(x=layers, y=_r(stream.ffn_update.mean(1), 3), name="FFN", marker_color="#e08a00",
                            hovertemplate="%{x} · FFN: %{y:.1%}<extra></extra>"))
    figure.update_layout(height=280, margin=dict(l=10, r=10, t=10, b=10), barmode="group",
                         yaxis=dict(tickformat=".0%", title="‖update‖ / ‖stream‖"), legend=dict(orientation="h", y=1.12))
    return figure
