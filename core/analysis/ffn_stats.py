"""Numbers about the feed-forward network and the residual stream, computed from a trace.

Plain numpy in, plain numpy out: the FFN's shape for the loaded model, its most active
neurons, how many activations the non-linearity leaves near zero, and how much each
sub-layer (attention, FFN) moves every token's vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..models.model_info import ModelInfo
from ..trace.tracer import Trace

# ---------------------------------------------------------------------------------------
# The FFN's shape
# ---------------------------------------------------------------------------------------

_ACTIVATION_NAMES = {
    "gelu": "GELU", "gelu_new": "GELU (tanh)", "gelu_pytorch_tanh": "GELU (tanh)", "gelu_fast": "GELU (fast)",
    "relu": "ReLU", "silu": "SiLU", "swish": "SiLU", "quick_gelu": "quick GELU",
}


@dataclass(frozen=True)
class FFNShape:
    d_model: int
    d_ff: int
    gated: bool
    activation: str           # the config's name, e.g. "gelu"
    activation_label: str     # a readable name, e.g. "GELU"
    output_norm: str = ""     # Gemma: the norm applied to the FFN's output before the residual add ("" for none)

    @property
    def expansion(self) -> float:
        return self.d_ff / self.d_model

    @property
    def weight_count(self) -> int:
        """Weights per layer's FFN, biases left out: in and out (and the gate for gated FFNs)."""
        return (3 if self.gated else 2) * self.d_model * self.d_ff

    @property
    def arrow(self) -> str:
        return f"{self.d_model:,} → {self.d_ff:,} → {self.d_model:,}"


def ffn_shape(info: ModelInfo) -> FFNShape:
    name = str(info.ffn_activation)
    return FFNShape(info.d_model, info.d_ff, bool(info.ffn_gated), name, _ACTIVATION_NAMES.get(name.lower(), name),
                    info.norm_kind if info.output_norms else "")


# ---------------------------------------------------------------------------------------
# Neurons
# ---------------------------------------------------------------------------------------


def most_active_neurons(activations: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` neurons (columns of [T, d_ff]) with the largest |activation| on any token, strongest first."""
    peak = np.abs(activations).max(0)
    count = int(min(count, peak.size))
    order = np.argsort(-peak, kind="stable")
    return order[:count]


def near_zero_share(activations: np.ndarray, eps: float) -> float:
    """Share of the activations with |a| < eps."""
    if activations.size == 0:
        return 0.0
    return float((np.abs(activations) < eps).mean())


def near_zero_by_layer(trace: Trace, eps: float) -> np.ndarray:
    """[L] near-zero share of every layer's activations after the non-linearity."""
    return np.asarray([near_zero_share(layer.ffn_activations, eps) for layer in trace.layers])


def near_zero_overall(trace: Trace, eps: float) -> float:
    """Near-zero share over every layer's activations together (each layer has T × d_ff of them, so this is
    also the mean of ``near_zero_by_layer``)."""
    counts = [(int((np.abs(layer.ffn_activations) < eps).sum()), layer.ffn_activations.size) for layer in trace.layers]
    total = sum(size for _, size in counts)
    return sum(count for count, _ in counts) / total if total else 0.0


def top_neurons_of_token(activations: np.ndarray, token: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(neuron indices, activations) of one token's ``count`` highest activations, highest first."""
    row = activations[token]
    count = int(min(count, row.size))
    order = np.argsort(-row, kind="stable")[:count]
    return order, row[order].astype(np.float64)


def top_tokens_of_neuron(activations: np.ndarray, neuron: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(token positions, activations) of the tokens that fire one neuron the most, highest first."""
    column = activations[:, neuron]
    count = int(min(count, column.size))
    order = np.argsort(-column, kind="stable")[:count]
    return order, column[order].astype(np.float64)


def tokens_firing(activations: np.ndarray, neuron: int, eps: float) -> int:
    """How many tokens drive one neuron above ``eps`` (activations [tokens, neurons])."""
    return int((np.asarray(activations)[:, neuron] > eps).sum())


def lowest_activation(activations: np.ndarray) -> float:
    """The most negative activation of a layer (GELU lets small negatives through; ReLU cuts them to 0)."""
    return float(np.min(activations)) if np.size(activations) else 0.0


def activation_histogram(activations: np.ndarray, bins: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """(counts, bin edges) of one layer's activations: a histogram small enough to send."""
    values = np.asarray(activations, dtype=np.float64).ravel()
    if values.size == 0:
        return np.zeros(bins, dtype=np.int64), np.linspace(0, 1, bins + 1)
    low, high = np.percentile(values, [0.1, 99.9])
    if not high > low:
        low, high = values.min() - 0.5, values.max() + 0.5
    counts, edges = np.histogram(np.clip(values, low, high), bins=bins, range=(low, high))
    return counts, edges


# ---------------------------------------------------------------------------------------
# The residual stream
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResidualStream:
    stages: tuple[str, ...]       # "embeddings", "L1 attention", "L1 FFN", … (2L + 1)
    norms: np.ndarray             # [2L + 1, T] ‖x‖ of each token after every sub-layer
    attention_change: np.ndarray  # [L, T] ‖after attention − before‖ / ‖before‖
    ffn_change: np.ndarray        # [L, T] ‖after FFN − before‖ / ‖before‖
    attention_update: np.ndarray  # [L, T] ‖what attention adds‖ / ‖stream entering the block‖ (before any post-norm)
    ffn_update: np.ndarray        # [L, T] ‖what the FFN adds‖ / ‖stream after attention‖
    pre_norm: bool

    @property
    def n_layers(self) -> int:
        return self.attention_change.shape[0]

    @property
    def norm_range(self) -> tuple[float, float]:
        """(min, max) of the tokens' norms after every sub-layer (the embeddings left out); (0, 0) without layers."""
        after = self.norms[1:]
        return (float(after.min()), float(after.max())) if after.size else (0.0, 0.0)

    @property
    def largest_change(self) -> float:
        """The largest relative change any sub-layer makes to any token (0 without layers): one colour scale for both."""
        return float(max(self.attention_change.max(initial=0), self.ffn_change.max(initial=0)))

    @property
    def mean_attention_update(self) -> float:
        """‖attention output‖ / ‖stream‖, averaged over all layers and tokens."""
        return float(self.attention_update.mean()) if self.attention_update.size else 0.0

    @property
    def mean_ffn_update(self) -> float:
        """‖FFN output‖ / ‖stream‖, averaged over all layers and tokens."""
        return float(self.ffn_update.mean()) if self.ffn_update.size else 0.0


def _norm(x: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.asarray(x, dtype=np.float64), axis=-1)


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), 0.0)


def residual_stream(trace: Trace) -> ResidualStream:
    """Each token's vector norm after every sub-layer, and how much each sub-layer changed it.

    Pre-norm models (GPT-2, Llama) add each sub-layer's output straight onto the stream (Gemma
    first normalises that output: its update is the normalised vector, the one really added);
    post-norm models (BERT) add it and then apply a LayerNorm, so the 'change' includes
    the norm's rescaling while the 'update' is what the sub-layer itself produced."""
    stages = ["embeddings"]
    norms = [_norm(trace.layers[0].input if trace.layers else trace.embeddings.output)]
    attention_change, ffn_change, attention_update, ffn_update = [], [], [], []
    for layer in trace.layers:
        before = _norm(layer.input)
        middle = _norm(layer.post_attention)
        stages += [f"L{layer.index + 1} attention", f"L{layer.index + 1} FFN"]
        norms += [middle, _norm(layer.output)]
        attention_change.append(_ratio(_norm(layer.post_attention - layer.input), before))
        ffn_change.append(_ratio(_norm(layer.output - layer.post_attention), middle))
        attention_update.append(_ratio(_norm(layer.attention_added), before))
        ffn_update.append(_ratio(_norm(layer.ffn_added), middle))

    def stack(rows):
        return np.stack(rows) if rows else np.zeros((0, trace.n_tokens))

    return ResidualStream(
        stages=tuple(stages),
        norms=np.stack(norms),
        attention_change=stack(attention_change),
        ffn_change=stack(ffn_change),
        attention_update=stack(attention_update),
        ffn_update=stack(ffn_update),
        pre_norm=bool(trace.model.pre_norm),
    )
