"""Figures and HTML of the retrieval debugger: token counts against the window, the token-pair
split of a score, query tokens coloured by their share, per-layer similarity, what-if bars,
scores against the corpus's own, and the training run's loss.

Labels from user text go through ``labels`` (escaped once for Plotly); HTML goes to st.html, which sanitises again.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .figures import heatmap
from .labels import html_escape, plotly_escape, signed_number, unique_labels, visible
from .tokens import CHIP_STYLE
from .training_views import loss_curve

MAX_WORD_COLUMNS = 40   # passage words drawn in a pair heatmap; longer passages keep their strongest
GROUP_LABELS = {"query token": "query token removed", "prompt": "prompt", "pooling": "pooling",
                "dimensions": "dimension cut", "quantisation": "int8 / binary", "passage word": "passage word removed"}
GROUP_COLOURS = {"query token": "#0068c9", "prompt": "#ff8700", "pooling": "#29b09d", "dimensions": "#6d3fc0",
                 "quantisation": "#7f6d5f", "passage word": "#0068c9"}  # no red: red means "takes from the score" here
POSITIVE, NEGATIVE = (33, 102, 172), (178, 24, 43)   # RdBu's ends: blue adds to the score, red takes from it


def token_count_histogram(counts: np.ndarray, edges: np.ndarray, max_length: int) -> go.Figure:
    """Passages per token count (``CorpusBudget.histogram``), the model's window as a line."""
    counts, edges = np.asarray(counts), np.asarray(edges, dtype=float)
    centres, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    over = centres > max_length
    figure = go.Figure(go.Bar(
        x=np.round(centres, 1), y=counts, width=widths * 0.95,
        marker_color=np.where(over, "#ff2b2b", "#0068c9").tolist(),
        customdata=np.stack([np.round(edges[:-1]), np.round(edges[1:])], axis=1),
        hovertemplate="%{customdata[0]:.0f}–%{customdata[1]:.0f} tokens: %{y} passages<extra></extra>"))
    figure.add_vline(x=max_length, line_dash="dash", line_color="#c0392b",
                     annotation_text=f"window: {max_length} tokens", annotation_position="top right")
    figure.update_layout(height=280, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="tokens the passage needs "
                         "(special tokens and document prompt included)", yaxis_title="passages", bargap=0.05)
    return figure


def strongest_words(shares: np.ndarray, limit: int = MAX_WORD_COLUMNS) -> np.ndarray:
    """Indices of the ``limit`` words with the largest |share|, in text order (all when there are fewer)."""
    shares = np.asarray(shares)
    if shares.size <= limit:
        return np.arange(shares.size)
    return np.sort(np.argsort(-np.abs(shares), kind="stable")[:limit])


def pair_heatmap(word_matrix: np.ndarray, query_tokens, passage_words, word_shares: np.ndarray, *, title: str,
                 limit: float | None = None) -> go.Figure:
    """Query tokens × passage words (``core.retrieval.explain.word_contributions``): each cell the
    pair's share of the score; a long passage keeps its strongest ``MAX_WORD_COLUMNS`` words."""
    word_matrix = np.asarray(word_matrix, dtype=np.float64)
    keep = strongest_words(word_shares)
    shown = word_matrix[:, keep]
    words = [passage_words[i] for i in keep]
    limit = limit or (float(np.abs(shown).max()) if shown.size else 1.0)
    x_labels = unique_labels([w if len(w) <= 18 else w[:17] + "…" for w in words])
    figure = heatmap(shown, x_labels=x_labels, y_labels=unique_labels(query_tokens), zmin=-(limit or 1.0),
                     zmax=limit or 1.0, decimals=5, hover="%{y} × %{x}: %{z:.5f}", title=title,
                     x_title="passage words" + (f" (the {len(keep)} strongest of {len(passage_words)}, in text order)"
                                                if len(keep) < len(passage_words) else ""),
                     y_title="query tokens", height=max(260, 26 * len(query_tokens) + 190))
    # every column its word (Plotly would thin crowded category ticks, leaving columns nobody can name)
    figure.update_xaxes(tickangle=-45, tickmode="array", tickvals=x_labels, ticktext=x_labels,
                        tickfont=dict(size=10 if len(keep) > 25 else 12))
    figure.update_traces(colorbar=dict(title=dict(text="share", side="right")))
    return figure


def word_columns(word_shares: np.ndarray) -> int:
    """How many passage-word columns ``pair_heatmap`` draws for these shares."""
    return int(strongest_words(word_shares).size)


def _chip_colour(value: float, limit: float) -> str:
    alpha = min(abs(value) / limit, 1.0) * 0.85 if limit > 0 else 0.0
    red, green, blue = POSITIVE if value >= 0 else NEGATIVE
    return f"rgba({red},{green},{blue},{alpha:.2f})"


def share_chips_html(tokens, shares: np.ndarray, *, title: str, limit: float | None = None) -> str:
    """One chip per query token, its background coloured by its share of the score (blue adds, red
    takes away), the share printed under it."""
    shares = np.asarray(shares, dtype=np.float64)
    limit = float(np.abs(shares).max()) if limit is None and shares.size else float(limit or 0.0)
    parts = [CHIP_STYLE, '<style>.ee-share .ee-chip{border-color:#b9c3d0}.ee-share .ee-id{color:#10243e}</style>',
             f'<div class="ee-share"><div style="font-size:.85em;color:#33465c;margin:2px 0 4px">{html_escape(title)}</div>',
             f'<div class="ee-chips" role="list" aria-label="{html_escape(title)}">']
    for position, (token, share) in enumerate(zip(tokens, shares)):
        colour = _chip_colour(float(share), limit)
        hover = f"position {position} · share {share:+.5f}"
        parts.append(f'<span class="ee-chip" role="listitem" title="{html_escape(hover)}" style="background:{colour}">'
                     f'<span class="ee-tok">{html_escape(visible(token))}</span>'
                     f'<span class="ee-id">{share:+.4f}</span></span>')
    parts.append("</div></div>")
    return "".join(parts)


def layer_similarity_lines(series: dict[str, np.ndarray]) -> go.Figure:
    """Cosine of the pooled query and passage after each layer (0 = the embedding output), one line per passage."""
    figure = go.Figure()
    for name, values in series.items():
        values = np.round(np.asarray(values, dtype=np.float64), 5)
        figure.add_trace(go.Scatter(x=list(range(len(values))), y=values, mode="lines+markers", name=name,
                                    hovertemplate="after layer %{x}: %{y:.5f}<extra>" + name + "</extra>"))
    figure.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="layer (0 = embeddings)",
                         yaxis_title="cosine of the pooled vectors", xaxis=dict(dtick=1),
                         legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    return figure


def what_if_bars(items, *, expected_label: str) -> go.Figure:
    """One bar per edit: places the expected passage moves up (left) and the change of its score
    (right), coloured by the kind of edit."""
    from plotly.subplots import make_subplots

    items = list(items)
    labels = _unique([plotly_escape(visible(item.label, show_spaces=False)) for item in items])
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.03,
                           subplot_titles=(f"places {expected_label} moves up (+) or down (−)", "change of its score"))
    seen = set()
    for group in dict.fromkeys(item.group for item in items):
        rows = [i for i, item in enumerate(items) if item.group == group]
        name = GROUP_LABELS.get(group, group)
        # a binary score is a −Hamming distance, on another scale: it is in the table, not among the score bars
        comparable = [i for i in rows if not is_hamming(items[i])]
        for column, shown, values, template in (
                (1, rows, [items[i].rank_change for i in rows], "%{y}: %{x:+d} places (rank %{customdata})"),
                (2, comparable, [round(items[i].score_change, 5) for i in comparable], "%{y}: %{x:+.5f}")):
            figure.add_trace(go.Bar(
                y=[labels[i] for i in shown], x=values, orientation="h", name=name, legendgroup=name,
                showlegend=name not in seen and column == 1, marker_color=GROUP_COLOURS.get(group, "#888"),
                customdata=[items[i].rank for i in shown], hovertemplate=template + "<extra>" + name + "</extra>"),
                row=1, col=column)
        seen.add(name)
    figure.update_yaxes(autorange="reversed", type="category", tickfont=dict(size=11))
    figure.update_xaxes(zeroline=True, zerolinecolor="#555", zerolinewidth=1)
    moves = max((abs(item.rank_change) for item in items), default=0)
    if moves <= 10:  # whole places: no 0.5-place ticks
        figure.update_xaxes(dtick=1, range=[-max(moves, 1) - 0.5, max(moves, 1) + 0.5], row=1, col=1)
    figure.update_layout(height=max(280, 22 * len(items) + 120), margin=dict(l=10, r=10, t=40, b=10), barmode="relative",
                         legend=dict(orientation="h", yanchor="top", y=-0.08, x=0))
    return figure


def is_hamming(item) -> bool:
    """A what-if whose score is a −Hamming distance of sign bits (binary vectors), not a similarity."""
    return item.group == "quantisation" and item.label.startswith("binary")


def _unique(labels: list[str]) -> list[str]:
    """Plotly merges equal category labels: number the repeats."""
    return [f"{label} ({index + 1})" if labels.count(label) > 1 else label for index, label in enumerate(labels)]


def shared_limit(*matrices: np.ndarray) -> float:
    """One symmetric colour limit for several heatmaps, so equal colours mean equal shares."""
    values = [float(np.abs(np.asarray(m)).max()) for m in matrices if np.asarray(m).size]
    return max(values, default=0.0) or 1.0


def score_histograms(random_pairs: np.ndarray, query_scores: np.ndarray, marks: dict[str, float], similarity: str) -> go.Figure:
    """Scores of random pairs of passages and of the query against every passage, as shares of
    each, with the top and expected passages' scores marked."""
    figure = go.Figure()
    for values, name, colour in ((random_pairs, "two random passages of the corpus", "#83c9ff"),
                                 (query_scores, "the query against every passage", "#ff8700")):
        figure.add_trace(go.Histogram(x=np.round(np.asarray(values, dtype=np.float64), 5), name=name, opacity=0.65,
                                      histnorm="percent", nbinsx=50, marker_color=colour,
                                      hovertemplate="%{x}: %{y:.1f} %<extra>" + name + "</extra>"))
    dashes = ("solid", "dash", "dot")
    for number, (name, score) in enumerate(marks.items()):
        figure.add_vline(x=float(score), line_dash=dashes[number % 3], line_color="#10243e",
                         annotation_text=f"{plotly_escape(name)}: {signed_number(score, 5)}",
                         annotation_position="top left" if number % 2 else "top right")
    figure.update_layout(barmode="overlay", height=320, margin=dict(l=10, r=10, t=40, b=10),
                         xaxis_title=f"score ({plotly_escape(similarity)})", yaxis_title="% of the scores",
                         legend=dict(orientation="h", yanchor="bottom", y=1.08, x=0))
    return figure


def passage_preview(text: str, limit: int = 300) -> str:
    """A passage on one line for a table or a picker: runs of spaces and line breaks as one space,
    invisible characters shown (plain text: widgets render it as text)."""
    shown = visible(" ".join(text.split()), show_spaces=False)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def passage_label(number: int, text: str, limit: int = 70) -> str:
    """'12. The start of the passage…' for a picker."""
    return f"{number + 1}. " + passage_preview(text, limit)


def teach_loss_curve(losses) -> go.Figure:
    """The training run's loss per step, on whole steps (a run here has at most a few dozen)."""
    figure = loss_curve(losses)
    if len(losses) <= 20:
        figure.update_xaxes(dtick=1)
    return figure
