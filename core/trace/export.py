"""A trace as plain arrays: for `python -m core trace --out` and the app's download button."""

from __future__ import annotations

import io

import numpy as np

from .data import Trace


def trace_arrays(trace: Trace) -> dict[str, np.ndarray]:
    arrays = {
        "input_ids": trace.tokens.input_ids,
        "tokens": np.asarray(trace.tokens.tokens, dtype=str),
        "offsets": trace.tokens.offsets,
        "special_mask": trace.tokens.special_mask,
        "hidden_states": trace.hidden_states,
        "attentions": trace.attentions,
        "attention_scores": np.stack([layer.attention_scores for layer in trace.layers]),
        "embedding_rows": trace.embeddings.token_rows,
        "embedding_output": trace.embeddings.output,
        "ffn_activations": np.stack([layer.ffn_activations for layer in trace.layers]),
        "native_embedding": trace.native_embedding,
        "dropped_ids": np.asarray(trace.tokens.truncation.dropped_ids, dtype=np.int64),
    }
    for name, vector in trace.pooled.items():
        arrays[f"pooled_{name}"] = vector
    if trace.embeddings.position_rows is not None:
        arrays["position_rows"] = trace.embeddings.position_rows
    if trace.embeddings.rotary_angles is not None:
        arrays["rotary_angles"] = trace.embeddings.rotary_angles
    return arrays


def trace_npz_bytes(trace: Trace) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **trace_arrays(trace))
    return buffer.getvalue()
