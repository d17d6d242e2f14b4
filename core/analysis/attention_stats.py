"""Numbers about attention, computed from a trace: per-head summaries, the formula worked
for one query token, a shared 2-D picture of a head's queries and keys, and the size
reductions the attention page needs for long texts.

Everything takes the arrays of ``core.trace.LayerTrace`` and returns plain numpy data; no
forward pass happens here (``output_projection_check`` applies one linear layer, W_o, to
traced values).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..trace.tracer import LayerTrace, Trace

# ---------------------------------------------------------------------------------------
# Per-head summaries (the layers × heads overview)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeadMetric:
    key: str
    label: str            # short name for a selector
    unit: str             # e.g. "bits", "tokens", "share"
    explanation: str      # one sentence for the page
    values: np.ndarray    # [L, H]

    @property
    def mean(self) -> float:
        """The mean over every head of every layer (heads without a value left out)."""
        values = np.asarray(self.values, dtype=np.float64)
        return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")

    @property
    def highest(self) -> tuple[int, int, float]:
        """(layer, head, value) of the head with the largest value (the first one on a tie)."""
        return _cell(self.values, int(np.argmax(self.values)))

    @property
    def lowest(self) -> tuple[int, int, float]:
        """(layer, head, value) of the head with the smallest value (the first one on a tie)."""
        return _cell(self.values, int(np.argmin(self.values)))


def _cell(values: np.ndarray, flat: int) -> tuple[int, int, float]:
    layer, head = np.unravel_index(flat, values.shape)
    return int(layer), int(head), float(values[layer, head])


def _row_entropy_bits(probs: np.ndarray) -> np.ndarray:
    """Entropy (bits) of every softmax row: [..., T, T] → [..., T]. The terms stay in the maps' own
    float32 (a 0 weight adds 0); each row's sum is taken in float64."""
    p = np.asarray(probs, dtype=np.float32)
    terms = p * np.log2(np.maximum(p, np.float32(1e-38)))
    return -terms.sum(-1, dtype=np.float64)


def head_entropy(probs: np.ndarray) -> np.ndarray:
    """Mean entropy (bits) of the attention rows of each head: [H, T, T] → [H]."""
    return _row_entropy_bits(probs).mean(-1)


def mean_attended_distance(probs: np.ndarray) -> np.ndarray:
    """Weight-averaged |query − key| position distance, mean over queries: [H, T, T] → [H]."""
    n = probs.shape[-1]
    positions = np.arange(n)
    distance = np.abs(positions[:, None] - positions[None, :]).astype(np.float32)
    return np.einsum("...qk,qk->...q", np.asarray(probs, dtype=np.float32), distance, dtype=np.float64).mean(-1)


def share_on(probs: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Mean over queries of the attention weight on the keys where ``columns`` is True: [H, T, T] → [H]."""
    columns = np.asarray(columns, dtype=bool)
    return probs[..., columns].astype(np.float64).sum(-1).mean(-1)


def share_on_neighbours(probs: np.ndarray) -> np.ndarray:
    """Mean over queries of the weight on the tokens right before and after: [H, T, T] → [H]."""
    probs = np.asarray(probs)
    before = np.diagonal(probs, offset=-1, axis1=-2, axis2=-1).sum(-1, dtype=np.float64)  # key t − 1 of query t
    after = np.diagonal(probs, offset=1, axis1=-2, axis2=-1).sum(-1, dtype=np.float64)    # key t + 1
    return (before + after) / probs.shape[-2]


def special_columns(trace: Trace) -> tuple[np.ndarray, tuple[str, ...]]:
    """The key columns the 'share on special tokens' metric adds up, and those tokens' spellings.

    Models whose tokenizer adds no special tokens (GPT-2) get the first token instead (empty
    spellings), where decoders park unused attention."""
    mask = np.asarray(trace.tokens.special_mask, dtype=bool)
    if mask.any():
        return mask, tuple(sorted({trace.tokens.tokens[i] for i in np.flatnonzero(mask)}))
    first = np.zeros(trace.n_tokens, dtype=bool)
    first[0] = True
    return first, ()


def head_overview(trace: Trace) -> list[HeadMetric]:
    """One number per head of every layer, for each of the overview's metrics."""
    columns, names = special_columns(trace)
    per_layer = {"entropy": [], "distance": [], "special": [], "neighbours": []}
    for layer in trace.layers:
        probs = layer.attention_probs
        per_layer["entropy"].append(head_entropy(probs))
        per_layer["distance"].append(mean_attended_distance(probs))
        per_layer["special"].append(share_on(probs, columns))
        per_layer["neighbours"].append(share_on_neighbours(probs))
    n = trace.n_tokens
    stack = {key: np.stack(values) if values else np.zeros((0, trace.model.n_heads)) for key, values in per_layer.items()}
    return [
        HeadMetric("entropy", "attention entropy", "bits",
                   f"How spread out each query's attention is, averaged over the {n} queries: 0 bits = all weight on "
                   f"one token; log2({n}) = {np.log2(max(n, 1)):.2f} bits = spread evenly over every token.",
                   stack["entropy"]),
        HeadMetric("distance", "mean distance attended", "tokens",
                   "How far (in positions) a query looks on average, weighting each key by its attention.",
                   stack["distance"]),
        HeadMetric("special", "share on special tokens" if names else "share on the first token", "share",
                   "The average share of a query's attention that lands on "
                   + ("the special tokens" if names else "the first token (this tokenizer adds no special tokens)")
                   + ". High values often mean 'nothing to do here': the head parks its weight on a token "
                   "that carries little.",
                   stack["special"]),
        HeadMetric("neighbours", "share on neighbours (±1)", "share",
                   "The average share of attention on the token just before and just after: high for "
                   "heads that attend by position.",
                   stack["neighbours"]),
    ]


def suggested_heads(metrics: list[HeadMetric]) -> tuple[tuple[int, int], tuple[int, int]]:
    """((layer, head) that attends most by position, (layer, head) that attends least by position or
    to special tokens): the head with the largest share on its neighbours, and the one with the
    smallest share on neighbours + special tokens."""
    by_key = {m.key: m.values for m in metrics}
    neighbours = by_key["neighbours"]
    positional = np.unravel_index(np.argmax(neighbours), neighbours.shape)
    content = np.unravel_index(np.argmin(neighbours + by_key["special"]), neighbours.shape)
    return (int(positional[0]), int(positional[1])), (int(content[0]), int(content[1]))


# ---------------------------------------------------------------------------------------
# The formula for one query token
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkedAttention:
    layer: int
    head: int
    query_index: int
    query: np.ndarray            # [d_head] q of the chosen token
    keys: np.ndarray             # [T, d_head]
    values: np.ndarray           # [T, d_head]
    dots: np.ndarray             # [T] q · k_s
    scale: float                 # the model's factor (1/√d_k for most models)
    bias: np.ndarray             # [T] anything the model adds to the scores besides q·k×scale (MPNet's relative bias), else 0
    scores: np.ndarray           # [T] q·k×scale + bias from the traced Q and K (before mask and softmax)
    allowed: np.ndarray          # [T] bool: may this query look at key s
    exp_scores: np.ndarray       # [T] exp(score − max) for allowed keys, 0 for masked ones
    weights: np.ndarray          # [T] softmax recomputed here from the scores
    traced_weights: np.ndarray   # [T] the row the model itself used
    weighted_sum: np.ndarray     # [d_head] Σ_s weights_s · v_s, computed here
    traced_context: np.ndarray   # [d_head] the head's output the model passed on to W_o

    @property
    def weights_max_error(self) -> float:
        return float(np.max(np.abs(self.weights - self.traced_weights)))

    @property
    def sum_max_error(self) -> float:
        return float(np.max(np.abs(self.weighted_sum - self.traced_context)))

    @property
    def scaled_dots(self) -> np.ndarray:
        """[T] q·k × scale, the score before any bias."""
        return self.dots * self.scale

    @property
    def weights_total(self) -> float:
        """Σ of the recomputed softmax weights (1 up to rounding)."""
        return float(self.weights.sum())

    @property
    def has_bias(self) -> bool:
        return bool(np.any(np.abs(self.bias) > 1e-6))


def worked_attention(layer: LayerTrace, head: int, query_index: int) -> WorkedAttention:
    """softmax(q·Kᵀ·scale + bias, masked)·V for one query token of one head, step by step, from traced Q, K, V."""
    q = layer.query[head, query_index].astype(np.float64)
    keys = layer.key[head].astype(np.float64)
    values = layer.value[head].astype(np.float64)
    dots = keys @ q
    scale = float(layer.attention_scale)
    scores = layer.attention_score_row(head, query_index).astype(np.float64)
    bias = scores - dots * scale
    bias = np.where(np.abs(bias) < 1e-4 * (1 + np.abs(scores)), 0.0, bias)  # float noise of the model's own matmul
    allowed = np.asarray(layer.attention_allowed[query_index], dtype=bool)
    top = scores[allowed].max() if allowed.any() else 0.0
    exp_scores = np.where(allowed, np.exp(np.where(allowed, scores - top, 0.0)), 0.0)
    weights = exp_scores / exp_scores.sum() if exp_scores.sum() > 0 else exp_scores
    return WorkedAttention(
        layer=layer.index,
        head=head,
        query_index=query_index,
        query=q,
        keys=keys,
        values=values,
        dots=dots,
        scale=scale,
        bias=bias,
        scores=scores,
        allowed=allowed,
        exp_scores=exp_scores,
        weights=weights,
        traced_weights=layer.attention_probs[head, query_index].astype(np.float64),
        weighted_sum=weights @ values,
        traced_context=layer.attention_context[head, query_index].astype(np.float64),
    )


def output_projection_check(explorer, layer: LayerTrace) -> float:
    """Max |W_o · concat(heads) − traced attention output|: the heads' outputs, joined and
    projected by the model's own output layer, give what the sub-layer added."""
    heads, seq, d_head = layer.attention_context.shape
    concat = layer.attention_context.transpose(1, 0, 2).reshape(seq, heads * d_head)
    path = explorer.architecture.layer_path(layer.index, explorer.architecture.attention_out_proj)
    return float(np.max(np.abs(explorer.apply_module(path, concat) - layer.attention_output)))


# ---------------------------------------------------------------------------------------
# Queries and keys in one 2-D picture
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryKeyProjection:
    queries: np.ndarray          # [T, 2]
    keys: np.ndarray             # [T, 2]
    explained: tuple[float, float]  # share of the (adjusted) variance along each axis
    key_shift_norm: float        # how far the key cloud was moved onto the query cloud
    scale_factor: float          # queries × c, keys ÷ c

    @property
    def explained_total(self) -> float:
        """The share of the spread the two axes hold together."""
        return float(sum(self.explained))


def query_key_projection(layer: LayerTrace, head: int) -> QueryKeyProjection:
    """Project a head's T queries and T keys with one PCA, after two moves that leave every
    attention weight unchanged (as AttentionViz does, Yeh et al. 2023):

    * shift every key by the same vector so the two clouds share a centre: q·(k + c) = q·k + q·c
      adds the same number to a whole softmax row, which softmax ignores;
    * scale queries by c and keys by 1/c so both clouds have the same mean norm: q·k is unchanged.

    Without them the picture is mostly the (meaningless) gap between the two clouds.
    """
    q = layer.query[head].astype(np.float64)
    k = layer.key[head].astype(np.float64)
    k = k - k.mean(0) + q.mean(0)
    centre = q.mean(0)
    q_spread = np.linalg.norm(q - centre, axis=1).mean()
    k_spread = np.linalg.norm(k - centre, axis=1).mean()
    c = float(np.sqrt(k_spread / q_spread)) if q_spread > 0 and k_spread > 0 else 1.0
    qs = (q - centre) * c
    ks = (k - centre) / c
    points = np.concatenate([qs, ks])
    points = points - points.mean(0)
    if points.shape[0] < 2 or not np.any(points):
        zeros = np.zeros((q.shape[0], 2))
        return QueryKeyProjection(zeros, zeros.copy(), (0.0, 0.0), 0.0, c)
    _, singular, vt = np.linalg.svd(points, full_matrices=False)
    axes = vt[:2]
    if axes.shape[0] < 2:
        axes = np.vstack([axes, np.zeros_like(axes[0])])
    coords = points @ axes.T
    # A stable sign: the largest-magnitude loading of each axis is positive.
    for i in range(2):
        if axes[i].size and axes[i][np.argmax(np.abs(axes[i]))] < 0:
            coords[:, i] *= -1
    variance = singular ** 2
    total = variance.sum()
    explained = tuple(float(v / total) if total > 0 else 0.0 for v in (list(variance[:2]) + [0.0, 0.0])[:2])
    n = q.shape[0]
    shift = float(np.linalg.norm(layer.key[head].astype(np.float64).mean(0) - q.mean(0)))
    return QueryKeyProjection(coords[:n], coords[n:], explained, shift, c)


# ---------------------------------------------------------------------------------------
# Sending less: masked maps, hidden columns, block averages, the strongest links
# ---------------------------------------------------------------------------------------


def masked_map(probs: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """A [T, T] (or [H, T, T]) map with the cells the model may not attend to set to NaN (drawn grey)."""
    out = np.array(probs, dtype=np.float32, copy=True)
    out[..., ~np.asarray(allowed, dtype=bool)] = np.nan
    return out


def block_average(matrix: np.ndarray, max_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average a [..., R, C] map over blocks so each side has at most ``max_size`` cells.

    Returns (the smaller map, the first row of each row block, the first column of each
    column block). NaN cells (masked) are left out of the averages; a block that is all NaN
    stays NaN. A side already short enough is kept as it is."""
    n_rows, n_cols = matrix.shape[-2], matrix.shape[-1]
    row_starts = np.linspace(0, n_rows, min(n_rows, max_size) + 1).round().astype(int)[:-1]
    col_starts = np.linspace(0, n_cols, min(n_cols, max_size) + 1).round().astype(int)[:-1]
    if n_rows <= max_size and n_cols <= max_size:
        return matrix, row_starts, col_starts
    valid = ~np.isnan(matrix)
    filled = np.where(valid, matrix, 0.0).astype(np.float64)
    sums = np.add.reduceat(np.add.reduceat(filled, row_starts, axis=-2), col_starts, axis=-1)
    counts = np.add.reduceat(np.add.reduceat(valid.astype(np.float64), row_starts, axis=-2), col_starts, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), np.nan)
    return out.astype(np.float32), row_starts, col_starts


@dataclass(frozen=True)
class Links:
    query: np.ndarray    # [n] query positions
    key: np.ndarray      # [n] key positions
    weight: np.ndarray   # [n]


def strongest_links(probs: np.ndarray, *, min_weight: float = 0.05, top_per_query: int = 0, queries=None,
                    keys=None) -> Links:
    """The (query, key) pairs of a [T, T] map worth drawing: every weight ≥ ``min_weight`` plus each
    query's ``top_per_query`` strongest keys, restricted to the given query / key positions (all by
    default), strongest first."""
    n = probs.shape[-1]
    q_sel = np.zeros(n, dtype=bool)
    k_sel = np.zeros(n, dtype=bool)
    q_sel[np.arange(n) if queries is None else np.asarray(queries, dtype=int)] = True
    k_sel[np.arange(n) if keys is None else np.asarray(keys, dtype=int)] = True
    candidates = np.where(q_sel[:, None] & k_sel[None, :], np.nan_to_num(probs, nan=-1.0), -1.0)
    keep = candidates >= min_weight
    if top_per_query > 0 and k_sel.any():
        count = int(min(top_per_query, k_sel.sum()))
        best = np.argsort(-candidates, axis=1, kind="stable")[:, :count]
        rows = np.repeat(np.arange(n), count)
        top = np.zeros_like(keep)
        top[rows, best.ravel()] = True
        keep |= top & (candidates > 0) & q_sel[:, None]
    qi, ki = np.nonzero(keep)
    w = probs[qi, ki]
    order = np.argsort(-w, kind="stable")
    return Links(qi[order], ki[order], w[order].astype(np.float64))


def hidden_share(probs: np.ndarray, hidden_columns: np.ndarray) -> float:
    """Mean over the rows of the weight the hidden columns carry (what a 'hide' toggle removes)."""
    hidden_columns = np.asarray(hidden_columns, dtype=bool)
    if not hidden_columns.any():
        return 0.0
    return float(probs[..., hidden_columns].sum(-1).mean())


# ---------------------------------------------------------------------------------------
# What the enlarged map and the head view show
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShownAttention:
    probs: np.ndarray     # [T, T] the weights of one head, or their mean over the layer's heads
    masked: np.ndarray    # [T, T] the same with the cells the model may not attend to set to NaN (drawn grey)

    @property
    def row_sum_deviation(self) -> float:
        """max over the rows of |Σ weights − 1|: softmax rows sum to 1 up to float rounding."""
        return float(np.max(np.abs(self.probs.sum(-1) - 1))) if self.probs.size else 0.0


def shown_attention(layer: LayerTrace, head: int | None) -> ShownAttention:
    """Head ``head`` of ``layer``, or the mean of all its heads when ``head`` is None."""
    allowed = np.asarray(layer.attention_allowed, dtype=bool)
    if head is None:
        masked = masked_map(layer.attention_probs, allowed)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a masked cell is NaN in every head: its mean stays NaN
            mean_masked = np.nanmean(masked, axis=0)
        return ShownAttention(layer.attention_probs.mean(0), mean_masked)
    return ShownAttention(layer.attention_probs[head], masked_map(layer.attention_probs[head], allowed))


def share_outside(probs: np.ndarray, queries, keys) -> float:
    """Mean over the ``queries`` rows of a [T, T] map of the weight that goes to keys outside ``keys``."""
    queries, keys = np.asarray(queries, dtype=int), np.asarray(keys, dtype=int)
    if queries.size == 0:
        return 0.0
    outside = 1.0 - probs[np.ix_(queries, keys)].sum(-1)
    return float(outside.mean())
