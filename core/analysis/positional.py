"""Position information: the article's sinusoidal encoding, the model's own positions, RoPE's
offset property, relative position buckets (T5, MPNet), and the word-order experiment.

Pure numpy; no Streamlit. The only function that runs the model is ``word_order_experiment``:
it embeds two texts as the model does, and again with the model's position information removed
by patching hooks on the model's declared hook points (``position_ablation``), which hold the
model's lock and always come off again.
"""

from __future__ import annotations

import math
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import numpy as np

from ..embed.embedding import embed_texts
from ..models.explorer_model import ExplorerModel
from ..models.hooks import Patch, identity_rotation, zero_output

# ---------------------------------------------------------------------------------------------
# The article's sinusoidal encoding (Vaswani et al. 2017)
# ---------------------------------------------------------------------------------------------


def sinusoidal_encoding(seq_len: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """[seq_len, d_model]: dimension 2i holds sin(p·ω_i), 2i+1 holds cos(p·ω_i), ω_i = base^(-2i/d)."""
    if seq_len < 0 or d_model < 1:
        raise ValueError("seq_len must be ≥ 0 and d_model ≥ 1")
    positions = np.arange(seq_len, dtype=np.float64)[:, None]
    pair = np.arange(d_model) // 2                         # the pair each dimension belongs to
    frequencies = base ** (-(2.0 * pair) / d_model)       # ω of that pair
    angles = positions * frequencies[None, :]
    encoding = np.where(np.arange(d_model) % 2 == 0, np.sin(angles), np.cos(angles))
    return encoding.astype(np.float32)


def dot_products(rows: np.ndarray) -> np.ndarray:
    """[P, P] plain dot products between position rows."""
    rows = np.asarray(rows, dtype=np.float64)
    return (rows @ rows.T).astype(np.float32)


def cosine_matrix(rows: np.ndarray) -> np.ndarray:
    """[P, P] cosine similarity between rows (a zero row gives 0)."""
    rows = np.asarray(rows, dtype=np.float64)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit = rows / np.where(norms == 0, 1.0, norms)
    return np.clip(unit @ unit.T, -1.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class OffsetProfile:
    """How a [P, P] matrix varies along its diagonals (one diagonal = one offset n − m)."""

    offsets: np.ndarray       # [2P-1] offsets −(P−1) … P−1
    mean: np.ndarray          # [2P-1] mean value on that diagonal
    spread: np.ndarray        # [2P-1] max − min on that diagonal (0 ⇔ depends only on the offset)
    scale: float              # max |value| of the matrix, to read the spread against
    minimum: np.ndarray       # [2P-1] smallest value on that diagonal
    maximum: np.ndarray       # [2P-1] largest value on that diagonal

    @property
    def max_spread(self) -> float:
        return float(self.spread.max()) if self.spread.size else 0.0

    @property
    def relative_spread(self) -> float:
        return self.max_spread / self.scale if self.scale > 0 else 0.0


def offset_profile(matrix: np.ndarray) -> OffsetProfile:
    matrix = np.asarray(matrix, dtype=np.float64)
    size = matrix.shape[0]
    if matrix.shape != (size, size):
        raise ValueError("offset_profile needs a square matrix")
    offsets = np.arange(-(size - 1), size) if size else np.zeros(0, dtype=int)
    means, minima, maxima = [], [], []
    for offset in offsets:
        diagonal = np.diagonal(matrix, offset=int(offset))
        means.append(diagonal.mean())
        minima.append(diagonal.min())
        maxima.append(diagonal.max())
    minimum = np.asarray(minima, dtype=np.float64)
    maximum = np.asarray(maxima, dtype=np.float64)
    return OffsetProfile(
        offsets=offsets.astype(np.int64),
        mean=np.asarray(means, dtype=np.float64),
        spread=maximum - minimum,
        scale=float(np.abs(matrix).max()) if size else 0.0,
        minimum=minimum,
        maximum=maximum,
    )


# ---------------------------------------------------------------------------------------------
# RoPE (rotate-half convention of transformers' Llama / Qwen / ModernBERT: dimension i pairs with i + d/2)
# ---------------------------------------------------------------------------------------------


def rope_rotate(vectors: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotate each row of ``vectors`` [T, d] by its row of ``angles`` [T, d/2] (radians):
    pair (x_i, x_{i+d/2}) → (x_i cos θ − x_{i+d/2} sin θ, x_{i+d/2} cos θ + x_i sin θ)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    angles = np.asarray(angles, dtype=np.float64)
    half = vectors.shape[-1] // 2
    if angles.shape[-1] != half:
        raise ValueError(f"{vectors.shape[-1]}-d vectors need {half} angles per row, got {angles.shape[-1]}")
    first, second = vectors[..., :half], vectors[..., half:]
    cos, sin = np.cos(angles), np.sin(angles)
    return np.concatenate([first * cos - second * sin, second * cos + first * sin], axis=-1)


def rope_frequencies(angles: np.ndarray) -> np.ndarray | None:
    """Radians per position step of each pair, read off the model's angle at position 1."""
    angles = np.asarray(angles)
    if angles.shape[0] < 2:
        return None
    return np.mod(angles[1] - angles[0], 2 * np.pi)


@dataclass(frozen=True)
class RopeOffsetCheck:
    scores: np.ndarray        # [P, P] q (content of one token, placed at m) · k (content of another, placed at n)
    profile: OffsetProfile    # its diagonals: constant ⇔ depends only on n − m
    query_token: int
    key_token: int
    head: int


def rope_offset_check(query: np.ndarray, key: np.ndarray, angles: np.ndarray, *, head: int = 0,
                      query_token: int = 0, key_token: int = 1) -> RopeOffsetCheck:
    """Take the model's own (post-RoPE) query of one token and key of another for ``head``
    ([H, T, d_head] each, as the trace records them), undo their rotation with the model's angles
    ([T, d_head/2]), place the same two content vectors at every pair of positions (m, n), and
    score them: with RoPE the score depends only on n − m."""
    seq = angles.shape[0]
    query_token, key_token = min(query_token, seq - 1), min(key_token, seq - 1)
    q_rotated = np.asarray(query[head, query_token], dtype=np.float64)
    k_rotated = np.asarray(key[head, key_token], dtype=np.float64)
    q_content = rope_rotate(q_rotated[None], -np.asarray(angles[query_token:query_token + 1], dtype=np.float64))[0]
    k_content = rope_rotate(k_rotated[None], -np.asarray(angles[key_token:key_token + 1], dtype=np.float64))[0]
    q_everywhere = rope_rotate(np.repeat(q_content[None], seq, axis=0), angles)
    k_everywhere = rope_rotate(np.repeat(k_content[None], seq, axis=0), angles)
    scores = q_everywhere @ k_everywhere.T
    return RopeOffsetCheck(scores=scores.astype(np.float32), profile=offset_profile(scores), query_token=query_token,
                           key_token=key_token, head=head)


def rotation_path(angles: np.ndarray, pair: int, start: tuple[float, float] = (1.0, 0.0)) -> np.ndarray:
    """[T, 2]: the 2-D vector ``start`` in dimension pair ``pair`` after each position's rotation."""
    theta = np.asarray(angles, dtype=np.float64)[:, pair]
    x, y = start
    return np.stack([x * np.cos(theta) - y * np.sin(theta), y * np.cos(theta) + x * np.sin(theta)], axis=1)


# ---------------------------------------------------------------------------------------------
# Relative position buckets (T5; MPNet's bias uses the same buckets): no position is added anywhere,
# each head adds a learned number to the score of (query, key) that depends only on the bucket of
# their offset: one bucket per offset up close, logarithmically wider buckets further out.
# ---------------------------------------------------------------------------------------------


def relative_position_bucket(offsets, *, num_buckets: int, max_distance: int, bidirectional: bool = True) -> np.ndarray:
    """The bucket of each offset (key position − query position), Mesh TensorFlow's rule as T5 uses it:
    with ``bidirectional`` half the buckets are for keys after the query; of each half, the first
    half are exact offsets 0, 1, 2, …, the rest cover offsets up to ``max_distance`` on a log scale,
    and everything further shares the last bucket. Computed in float32, as the model computes it, so
    offsets on a bucket boundary land where the model puts them."""
    offsets = np.asarray(offsets, dtype=np.int64)
    buckets = np.zeros_like(offsets)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (offsets > 0).astype(np.int64) * num_buckets
        distance = np.abs(offsets)
    else:  # a decoder looks back only: later keys all count as offset 0
        distance = -np.minimum(offsets, 0)
    max_exact = num_buckets // 2
    log_ratio = np.log(np.maximum(distance, 1).astype(np.float32) / np.float32(max_exact))
    far = max_exact + (log_ratio / np.float32(math.log(max_distance / max_exact))
                       * np.float32(num_buckets - max_exact)).astype(np.int64)
    far = np.minimum(far, num_buckets - 1)
    return buckets + np.where(distance < max_exact, distance, far)


@dataclass(frozen=True)
class RelativeBuckets:
    """A relative-bias model's position scheme for a text of ``n`` tokens, from its own weights."""

    offsets: np.ndarray           # [2n-1] key − query offsets −(n−1) … n−1
    offset_buckets: np.ndarray    # [2n-1] the bucket of each offset
    buckets: np.ndarray           # [n, n] bucket of (query i, key j)
    table: np.ndarray             # [num_buckets, H] the learned bias of each bucket for each head
    bias: np.ndarray              # [H, n, n] table[buckets[i, j], h]: what head h adds to the score of (i, j)
    num_buckets: int
    max_distance: int             # offsets this far or further share the last bucket of their side
    bidirectional: bool

    @property
    def exact_offsets(self) -> int:
        """Offsets below this (in size) each have a bucket of their own."""
        return (self.num_buckets // 2 if self.bidirectional else self.num_buckets) // 2

    def offsets_in_bucket(self, bucket: int) -> np.ndarray:
        """The offsets of this text that share ``bucket`` (and so share one learned bias per head)."""
        return self.offsets[self.offset_buckets == bucket]

    def bucket_spans(self) -> tuple[tuple[int, int, int], ...]:
        """(bucket, smallest offset, largest offset) of every bucket this text uses, by offset."""
        spans = []
        for bucket in np.unique(self.offset_buckets):
            inside = self.offsets_in_bucket(int(bucket))
            spans.append((int(bucket), int(inside.min()), int(inside.max())))
        return tuple(sorted(spans, key=lambda span: span[1]))

    def largest_difference(self, recorded_bias: Sequence[np.ndarray | None]) -> float:
        """max |this bias − the bias each layer really added to its scores| (the trace's
        ``attention_bias`` per layer); inf when a layer recorded none."""
        if any(bias is None or bias.shape != self.bias.shape for bias in recorded_bias):
            return float("inf")
        return max((float(np.abs(self.bias - bias).max()) for bias in recorded_bias), default=0.0)


def relative_buckets(explorer: ExplorerModel, n: int) -> RelativeBuckets | None:
    """The buckets and learned bias of a relative-bias model (T5, MPNet) for ``n`` tokens; None for a
    model without a relative bias table. The bucket settings are the model's config (T5) or the
    fixed ones its code uses (MPNet: 32 buckets, distances up to 128)."""
    table = explorer.weights("relative_attention_bias")
    if table is None:
        return None
    if explorer.info.model_type == "mpnet":  # MPNet's forward calls the bucket function with its defaults
        num_buckets, max_distance, bidirectional = 32, 128, True
    else:
        num_buckets = int(explorer.config_value("relative_attention_num_buckets"))
        max_distance = int(explorer.config_value("relative_attention_max_distance", 128))
        bidirectional = not bool(explorer.config_value("is_decoder", False))
    positions = np.arange(n)
    offsets = np.arange(-(n - 1), n) if n else np.zeros(0, dtype=np.int64)
    buckets = relative_position_bucket(positions[None, :] - positions[:, None], num_buckets=num_buckets,
                                       max_distance=max_distance, bidirectional=bidirectional)
    return RelativeBuckets(
        offsets=offsets.astype(np.int64),
        offset_buckets=relative_position_bucket(offsets, num_buckets=num_buckets, max_distance=max_distance,
                                                bidirectional=bidirectional),
        buckets=buckets,
        table=table,
        bias=np.ascontiguousarray(np.transpose(table[buckets], (2, 0, 1))),
        num_buckets=num_buckets,
        max_distance=max_distance,
        bidirectional=bidirectional,
    )


# ---------------------------------------------------------------------------------------------
# Removing the model's position information (forward hooks) and the word-order experiment
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AblationPlan:
    zeroed: tuple[str, ...]        # module paths whose output becomes zero (learned tables, relative bias)
    identity_rotation: tuple[str, ...]  # RoPE modules whose (cos, sin) become (1, 0): no rotation at all
    description: str               # what is removed, in words
    order_left: str | None         # what still tells the model the order, if anything
    patches: Mapping[str, Patch] = field(default_factory=dict, repr=False)  # hook name → patch, for the model


def ablation_plan(explorer: ExplorerModel, seq_len: int | None = None) -> AblationPlan:
    """What ``position_ablation`` removes from this model, and what still carries order (for a
    text of ``seq_len`` tokens, when given)."""
    arch, info, points = explorer.architecture, explorer.info, explorer.hook_points
    zeroed: list[str] = []
    rotary: list[str] = []
    patches: dict[str, Patch] = {}
    parts, left = [], []
    if points.has("embed.positions"):
        zeroed.append(arch.position_embeddings)
        patches[points.name("embed.positions")] = zero_output
        parts.append(f"the learned position rows ({arch.position_embeddings}) are replaced by zeros")
    if points.has("relative_bias"):
        zeroed.append(arch.relative_bias)
        patches[points.name("relative_bias")] = zero_output
        parts.append("the relative-position attention bias is set to zero")
    if info.position_kind == "rope":
        if points.has("rotary") and explorer.has_module(arch.rotary_embedding):
            rotary.append(arch.rotary_embedding)
            patches[points.name("rotary")] = identity_rotation
            parts.append("RoPE's cos/sin are replaced by 1/0 so queries and keys are not rotated at all")
        else:
            left.append("the tracer could not find this model's rotary module, so RoPE stays on")
    if info.causal:
        left.append("the causal mask: each token still sees only the tokens before it, so order still matters")
    reach = None
    if info.model_type == "modernbert":  # sliding-window layers: |i − j| ≤ sliding_window (= local_attention / 2)
        reach = explorer.config_value("sliding_window") or (explorer.config_value("local_attention", 0) // 2) or None
    elif info.model_type == "gemma3_text" and "sliding_attention" in (explorer.config_value("layer_types") or ()):
        # bidirectional EmbeddingGemma: |i − j| < sliding_window (causal Gemma: the window looks back only,
        # and the causal mask already keeps order)
        reach = (explorer.config_value("sliding_window") or 1) - 1 if not info.causal else None
    if reach and (seq_len is None or seq_len - 1 > reach):
        left.append(f"the sliding-window layers, where a token sees only the {reach} tokens on either side of it")
    if not parts:
        parts.append("nothing: this model has no position module the explorer knows how to remove")
    return AblationPlan(
        zeroed=tuple(zeroed),
        identity_rotation=tuple(rotary),
        description="; ".join(parts),
        order_left="; ".join(left) or None,
        patches=patches,
    )


@contextmanager
def position_ablation(explorer: ExplorerModel, plan: AblationPlan | None = None) -> Iterator[AblationPlan]:
    """Within the block, this thread's forward passes of ``explorer`` run without position
    information: the plan's patches in one hook session, which holds the model's lock, fires only
    in the calling thread's context and comes off whatever happens."""
    plan = plan or ablation_plan(explorer)
    with explorer.hooks(patches=plan.patches):
        yield plan


def embed_one(explorer: ExplorerModel, text: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """(the model's native sentence embedding of ``text``, its tokens): one plain forward pass
    through the model's own pipeline (inside ``position_ablation``, with its patches)."""
    vector = embed_texts(explorer, [text])[0]
    tokens = explorer.tokenize(text, prompt=explorer.pipeline.resolve_prompt()).tokens
    return vector.astype(np.float32), tokens


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denominator = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / denominator) if denominator > 0 else 0.0


@dataclass(frozen=True)
class WordOrderResult:
    text_a: str
    text_b: str
    tokens_a: tuple[str, ...]
    tokens_b: tuple[str, ...]
    cosine: float                  # as the model computes the two embeddings
    cosine_without_positions: float
    plan: AblationPlan
    pooling: str

    @property
    def same_tokens(self) -> bool:
        """The two texts have the same tokens, maybe in another order (an order-only change)."""
        return Counter(self.tokens_a) == Counter(self.tokens_b)

    @property
    def identical_tokens(self) -> bool:
        return self.tokens_a == self.tokens_b


def word_order_experiment(explorer: ExplorerModel, text_a: str, text_b: str) -> WordOrderResult:
    """Cosine similarity of the two texts' embeddings, as the model computes them and with its
    position information removed (``position_ablation``)."""
    vector_a, tokens_a = embed_one(explorer, text_a)
    vector_b, tokens_b = embed_one(explorer, text_b)
    plan = ablation_plan(explorer, max(len(tokens_a), len(tokens_b)))
    with position_ablation(explorer, plan):
        ablated_a, _ = embed_one(explorer, text_a)
        ablated_b, _ = embed_one(explorer, text_b)
    return WordOrderResult(
        text_a=text_a,
        text_b=text_b,
        tokens_a=tokens_a,
        tokens_b=tokens_b,
        cosine=_cosine(vector_a, vector_b),
        cosine_without_positions=_cosine(ablated_a, ablated_b),
        plan=plan,
        pooling=explorer.info.default_pooling,
    )
