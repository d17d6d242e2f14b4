"""What a trace holds: every stage of one text's forward pass as read-only numpy arrays.

``Trace`` is immutable and shared: a cached trace is handed to every page that asks for it (no
copies), so every array in it is read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Mapping

import numpy as np

from ..models.model_info import ModelInfo
from ..text.tokenization import TokenizedText


def frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class EmbeddingStage:
    token_rows: np.ndarray                 # [T, d] row ``input_ids[t]`` of the embedding table
    position_rows: np.ndarray | None       # [T, d] learned absolute position rows (None for RoPE)
    token_type_rows: np.ndarray | None     # [T, d] segment rows (BERT family)
    output: np.ndarray                     # [T, d] what enters layer 1 (the sum, after LayerNorm where there is one)
    rotary_angles: np.ndarray | None       # [T, d_head/2] RoPE angle (radians) per position and dimension pair
    token_scale: float | None = None       # Gemma: the rows × this (√d_model) enter layer 1; None: no scale


@dataclass(frozen=True)
class LayerTrace:
    index: int
    path: str                              # dotted path of the block, e.g. encoder.layer.3
    input: np.ndarray                      # [T, d] residual stream entering the block
    query: np.ndarray                      # [H, T, d_head] after RoPE / q-norm where the model has them
    key: np.ndarray                        # [H, T, d_head] (grouped KV heads repeated per query head)
    value: np.ndarray                      # [H, T, d_head]
    attention_bias: np.ndarray | None      # [H, T, T] MPNet's / T5's relative position bias added to the scores, else None
    attention_allowed: np.ndarray          # [T, T] bool: query t may attend to key s (padding, causal, sliding window)
    attention_probs: np.ndarray            # [H, T, T] softmax rows, as the model used them
    attention_context: np.ndarray          # [H, T, d_head] probs @ V, as it enters the output projection
    attention_output: np.ndarray           # [T, d] after the output projection, before the residual add
    post_attention: np.ndarray             # [T, d] residual stream after the attention sub-layer
    ffn_activations: np.ndarray            # [T, d_ff] after the non-linearity (× gate for gated FFNs)
    ffn_output: np.ndarray                 # [T, d] after the FFN's down projection, before the residual add
    output: np.ndarray                     # [T, d] the block's output
    attention_scale: float
    rotary_angles: np.ndarray | None       # [T, d_head/2] for RoPE layers
    # Gemma's sandwich norms: RMSNorm(attention_output) and RMSNorm(ffn_output), the vectors the residual adds
    # really add; None where the sub-layer's output is added as it is
    attention_output_normed: np.ndarray | None = None
    ffn_output_normed: np.ndarray | None = None

    @property
    def attention_added(self) -> np.ndarray:
        """[T, d] what the attention sub-layer adds to the residual stream."""
        return self.attention_output if self.attention_output_normed is None else self.attention_output_normed

    @property
    def ffn_added(self) -> np.ndarray:
        """[T, d] what the FFN sub-layer adds to the residual stream."""
        return self.ffn_output if self.ffn_output_normed is None else self.ffn_output_normed

    @property
    def attention_scores(self) -> np.ndarray:
        """[H, T, T] q·k × scale (+ MPNet's / T5's relative bias), before mask and softmax. Computed from the
        recorded Q and K each time it is asked for, never stored: at 256 tokens it would be a third of a
        trace, and a shared cached trace must not grow."""
        scores = np.matmul(self.query, self.key.transpose(0, 2, 1)) * np.float32(self.attention_scale)
        if self.attention_bias is not None:
            scores = scores + self.attention_bias
        return frozen(scores.astype(np.float32, copy=False))

    def attention_score_row(self, head: int, query_index: int) -> np.ndarray:
        """[T] the scores of one query token of one head: one row of ``attention_scores``."""
        row = self.key[head] @ self.query[head, query_index] * np.float32(self.attention_scale)
        if self.attention_bias is not None:
            row = row + self.attention_bias[head, query_index]
        return frozen(row.astype(np.float32, copy=False))


@dataclass(frozen=True)
class PipelineStage:
    """One step after the transformer in the model's sentence-transformers pipeline."""

    name: str                              # "mean pooling", "Dense 384 → 768, tanh", "Normalize"
    vector: np.ndarray                     # [d'] the sentence vector after this step


@dataclass(frozen=True)
class Trace:
    model: ModelInfo
    tokens: TokenizedText                  # what the model read: the prompt (if any) and the text
    embeddings: EmbeddingStage
    layers: tuple[LayerTrace, ...]
    last_hidden_state: np.ndarray          # [T, d] the model's final output (after a final norm, if any)
    pooled: Mapping[str, np.ndarray]       # pooling name → [d], straight after pooling (no Dense, not normalised)
    native_pooling: str
    native_embedding: np.ndarray           # [d'] what sentence-transformers' encode returns for this text
    pipeline_stages: tuple[PipelineStage, ...]  # pooling, each Dense layer, Normalize: the road to native_embedding
    # every recorded activation by hook name (core.models.hook_points); the arrays are read-only
    activations: Mapping[str, np.ndarray] = field(repr=False)
    prompt: str = ""                       # the prompt put before the text ("" for none)
    prompt_length: int = 0                 # the prompt's tokens at the start, [CLS] included
    # set when the accelerator failed and this trace was computed on the CPU (core.models.device_fallback)
    device_note: str | None = None

    @property
    def text(self) -> str:
        """The text as the user gave it (without the prompt)."""
        return self.tokens.text[len(self.prompt):]

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @cached_property
    def hidden_states(self) -> np.ndarray:
        """[L+1, T, d], laid out like transformers' ``output_hidden_states``."""
        states = [self.embeddings.output] + [layer.output for layer in self.layers]
        states[-1] = self.last_hidden_state
        return frozen(np.stack(states))

    @property
    def attentions(self) -> np.ndarray:
        """[L, H, T, T], laid out like transformers' ``output_attentions`` (stacked when asked for, so a
        shared trace does not keep a second copy of every pattern)."""
        return frozen(np.stack([layer.attention_probs for layer in self.layers]))

    @cached_property
    def nbytes(self) -> int:
        """Bytes of every distinct array the trace holds (shared arrays counted once): what a cache of
        traces is bounded by."""
        seen: dict[int, int] = {}

        def visit(value) -> None:
            if isinstance(value, np.ndarray):
                seen.setdefault(id(value), value.nbytes)
            elif isinstance(value, Mapping):
                for item in value.values():
                    visit(item)
            elif isinstance(value, (tuple, list)):
                for item in value:
                    visit(item)
            elif hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
                for spec in fields(value):
                    visit(getattr(value, spec.name))

        for spec in fields(self):
            visit(getattr(self, spec.name))
        return int(sum(seen.values()))
