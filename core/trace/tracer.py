"""One forward pass of one text, with every stage recorded: the data behind every page.

``trace_text`` registers hooks at the dotted paths that ``core.architectures`` names,
runs the model once under the model's lock, removes the hooks (whatever happened), and
returns an immutable ``Trace`` of numpy arrays on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Mapping, Sequence

import numpy as np
import torch

from ..models.device_fallback import run_with_cpu_fallback
from ..models.hooks import HookRecorder
from ..models.loading import ExplorerModel
from ..models.model_info import ModelInfo
from ..pipeline.pooling import POOLING_FUNCTIONS, l2_normalize, pool, weighted_mean_pooling
from ..text.tokenization import TokenizedText, tokenize


@dataclass(frozen=True)
class EmbeddingStage:
    token_rows: np.ndarray                 # [T, d] row ``input_ids[t]`` of the embedding table
    position_rows: np.ndarray | None       # [T, d] learned absolute position rows (None for RoPE)
    token_type_rows: np.ndarray | None     # [T, d] segment rows (BERT family)
    output: np.ndarray                     # [T, d] what enters layer 1 (the sum, after LayerNorm where there is one)
    rotary_angles: np.ndarray | None       # [T, d_head/2] RoPE angle (radians) per position and dimension pair


@dataclass(frozen=True)
class LayerTrace:
    index: int
    path: str                              # dotted path of the block, e.g. encoder.layer.3
    input: np.ndarray                      # [T, d] residual stream entering the block
    query: np.ndarray                      # [H, T, d_head] after RoPE / q-norm where the model has them
    key: np.ndarray                        # [H, T, d_head] (grouped KV heads repeated per query head)
    value: np.ndarray                      # [H, T, d_head]
    attention_bias: np.ndarray | None      # [H, T, T] MPNet's relative position bias added to the scores, else None
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

    @cached_property
    def attention_scores(self) -> np.ndarray:
        """[H, T, T] q·k × scale (+ MPNet's relative bias), before mask and softmax. Derived from the
        recorded Q and K when first asked for rather than stored: at 256 tokens it is a third of a trace."""
        scores = np.matmul(self.query, self.key.transpose(0, 2, 1)) * np.float32(self.attention_scale)
        if self.attention_bias is not None:
            scores = scores + self.attention_bias
        return _frozen(scores.astype(np.float32, copy=False))


@dataclass(frozen=True)
class Trace:
    model: ModelInfo
    tokens: TokenizedText
    embeddings: EmbeddingStage
    layers: tuple[LayerTrace, ...]
    last_hidden_state: np.ndarray          # [T, d] the model's final output (after a final norm, if any)
    pooled: Mapping[str, np.ndarray]       # pooling name → [d], not normalised
    native_pooling: str
    native_embedding: np.ndarray           # [d] what sentence-transformers' encode returns for this text
    # every recorded activation by dotted name (plain dicts so a trace pickles into st.cache_data;
    # the arrays themselves are read-only)
    activations: Mapping[str, np.ndarray] = field(repr=False)
    # set when the accelerator failed and this trace was computed on the CPU (core.device_fallback)
    device_note: str | None = None

    @property
    def text(self) -> str:
        return self.tokens.text

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @cached_property
    def hidden_states(self) -> np.ndarray:
        """[L+1, T, d], laid out like transformers' ``output_hidden_states``."""
        states = [self.embeddings.output] + [layer.output for layer in self.layers]
        states[-1] = self.last_hidden_state
        return _frozen(np.stack(states))

    @cached_property
    def attentions(self) -> np.ndarray:
        """[L, H, T, T], laid out like transformers' ``output_attentions``."""
        return _frozen(np.stack([layer.attention_probs for layer in self.layers]))

    def shapes(self) -> dict[str, tuple[int, ...]]:
        info, n = self.model, self.n_tokens
        return {
            "tokens": (n,),
            "embedding rows": (n, info.d_model),
            "per-head Q/K/V": (info.n_heads, n, info.d_head),
            "attention map per head": (n, n),
            "FFN activations": (n, info.d_ff),
            "layer output": (n, info.d_model),
            "sentence embedding": (info.d_model,),
        }


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    # No copy: recorded tensors are fresh module outputs that the model never writes to again
    # (checked for every family against independent references in tests/test_trace_reference.py);
    # the read-only flag stops anyone downstream from writing through the shared memory.
    return _frozen(tensor.detach().to("cpu", torch.float32).numpy())


def _recorded(activations: Mapping[str, np.ndarray], name: str, tensor: torch.Tensor) -> np.ndarray:
    """The activation array already made for ``name`` when it holds exactly ``tensor``'s values (one
    object, so a pickled trace carries it once), else a new array (e.g. grouped KV heads repeated)."""
    recorded = activations.get(name)
    if recorded is not None and recorded.shape == tuple(tensor.shape):
        return recorded
    return _numpy(tensor)


def _plan_hooks(recorder: HookRecorder, explorer: ExplorerModel) -> None:
    arch = explorer.architecture
    recorder.watch_output(arch.word_embeddings)
    recorder.watch_output(arch.embedding_output)
    for path in (arch.position_embeddings, arch.token_type_embeddings):
        if path:
            recorder.watch_output(path)
    if arch.final_norm:
        recorder.watch_output(arch.final_norm)
    for index in range(explorer.info.n_layers):
        block = arch.layer_path(index, "")
        recorder.watch_input(block)
        recorder.watch_output(block)
        attention = arch.layer_path(index, arch.attention)
        if arch.attention_probe == "interface":
            recorder.watch_attention(attention)
        else:  # MPNet computes attention inline: hook its projections and the relative position bias.
            for projection in ("q", "k", "v"):
                recorder.watch_output(f"{attention}.{projection}")
            recorder.watch_kwarg(attention, "position_bias", "hook_position_bias", position=2)
            recorder.watch_kwarg(attention, "attention_mask", "hook_mask", position=1)
        if arch.position_kind == "rope":
            recorder.watch_kwarg(attention, "position_embeddings", "hook_rotary")
        recorder.watch_input(arch.layer_path(index, arch.attention_out_proj))
        recorder.watch_output(arch.layer_path(index, arch.attention_out_proj))
        if arch.post_attention:
            recorder.watch_output(arch.layer_path(index, arch.post_attention))
        recorder.watch_input(arch.layer_path(index, arch.ffn_down_proj))
        recorder.watch_output(arch.layer_path(index, arch.ffn_down_proj))


def _heads(tensor: torch.Tensor, n_heads: int) -> torch.Tensor:
    """[1, H_kv, T, d] → [H, T, d], repeating grouped KV heads the way repeat_kv does."""
    tensor = tensor[0]
    if tensor.shape[0] != n_heads:
        tensor = tensor.repeat_interleave(n_heads // tensor.shape[0], dim=0)
    return tensor


def _split_heads(tensor: torch.Tensor, n_heads: int) -> torch.Tensor:
    """[1, T, H*d] → [H, T, d]."""
    seq = tensor.shape[1]
    return tensor[0].reshape(seq, n_heads, -1).transpose(0, 1)


def _allowed(mask: torch.Tensor | None, seq: int) -> torch.Tensor:
    if mask is None:
        return torch.ones(seq, seq, dtype=torch.bool)
    mask = mask.detach().cpu()
    while mask.dim() > 2:
        mask = mask[0]
    if mask.dtype == torch.bool:
        return mask
    return mask > torch.finfo(mask.dtype).min / 2


def _rotary_angles(records: dict, path: str) -> torch.Tensor | None:
    cos, sin = records.get(f"{path}.hook_rotary.0"), records.get(f"{path}.hook_rotary.1")
    if cos is None or sin is None:
        return None
    half = cos.shape[-1] // 2  # rotate_half pairs dimension i with i + d/2: one angle per pair
    return torch.atan2(sin[0, :, :half].float(), cos[0, :, :half].float())


def _attention(records: dict, explorer: ExplorerModel, index: int, seq: int):
    arch, info = explorer.architecture, explorer.info
    path = arch.layer_path(index, arch.attention)
    if arch.attention_probe == "interface":
        query = _heads(records[f"{path}.hook_query"], info.n_heads).float()
        key = _heads(records[f"{path}.hook_key"], info.n_heads).float()
        value = _heads(records[f"{path}.hook_value"], info.n_heads).float()
        scale = float(records[f"{path}.hook_scale"])
        bias = None
        probs = records[f"{path}.hook_pattern"][0].float()
        allowed = _allowed(records.get(f"{path}.hook_mask"), seq)
    else:
        query = _split_heads(records[f"{path}.q.hook_out"], info.n_heads).float()
        key = _split_heads(records[f"{path}.k.hook_out"], info.n_heads).float()
        value = _split_heads(records[f"{path}.v.hook_out"], info.n_heads).float()
        scale = info.d_head ** -0.5
        scores = query @ key.transpose(-1, -2) * scale
        bias = records.get(f"{path}.hook_position_bias")
        if bias is not None:
            bias = bias[0].float()
            scores = scores + bias
        mask = records.get(f"{path}.hook_mask")
        allowed = _allowed(mask, seq)
        probs = torch.softmax(scores + (mask[0].float() if mask is not None else 0.0), dim=-1)
    return path, query, key, value, bias, allowed, probs, scale


def _token_weight_vector(tokens: TokenizedText, token_weights) -> np.ndarray | None:
    if token_weights is None:
        return None
    if isinstance(token_weights, Mapping):
        return np.asarray([float(token_weights.get(int(i), 1.0)) for i in tokens.input_ids], dtype=np.float32)
    weights = np.asarray(token_weights, dtype=np.float32)
    if weights.shape != (len(tokens),):
        raise ValueError(f"token_weights has shape {weights.shape}, expected ({len(tokens)},)")
    return weights


def trace_text(
    explorer: ExplorerModel,
    text: str,
    *,
    token_weights: Mapping[int, float] | Sequence[float] | None = None,
    max_length: int | None = None,
) -> Trace:
    """Trace ``text`` through ``explorer``'s model. ``token_weights`` (by token id, or one per
    token) adds an IDF-style weighted mean to the pooled vectors. If the GPU runs out of memory
    the trace is computed on the CPU and ``Trace.device_note`` says so."""
    trace, note = run_with_cpu_fallback(
        explorer, lambda model: _trace_on(model, text, token_weights=token_weights, max_length=max_length)
    )
    return trace if note is None else replace(trace, device_note=note)


def _trace_on(explorer: ExplorerModel, text: str, *, token_weights, max_length) -> Trace:
    info, arch = explorer.info, explorer.architecture
    tokens = tokenize(explorer.tokenizer, text, max_length or info.max_seq_length)
    device = explorer.device
    inputs = {
        "input_ids": torch.as_tensor(tokens.input_ids, device=device).unsqueeze(0),
        "attention_mask": torch.ones(1, len(tokens), dtype=torch.long, device=device),
    }
    if arch.token_type_embeddings:
        inputs["token_type_ids"] = torch.as_tensor(tokens.token_type_ids, device=device).unsqueeze(0)

    recorder = HookRecorder(explorer.model, explorer.modules_by_path)
    _plan_hooks(recorder, explorer)
    with explorer.lock, torch.inference_mode(), recorder:
        output = explorer.model(**inputs)
        last_hidden = output.last_hidden_state
    records = recorder.records
    seq = len(tokens)
    # Every recorded tensor becomes a read-only numpy array once (batch axis dropped); the
    # layer fields below share these arrays rather than copying them again.
    activations = {
        name: _numpy(value[0] if value.dim() > 0 and value.shape[0] == 1 else value)
        for name, value in records.items()
        if isinstance(value, torch.Tensor)
    }

    layers = []
    for index in range(info.n_layers):
        block = arch.layer_path(index, "")
        path, query, key, value, bias, allowed, probs, scale = _attention(records, explorer, index, seq)
        out_proj = arch.layer_path(index, arch.attention_out_proj)
        block_input = records[f"{block}.hook_in"][0]
        attention_output = records[f"{out_proj}.hook_out"][0]
        if arch.post_attention:
            post_attention = records[f"{arch.layer_path(index, arch.post_attention)}.hook_out"][0]
        else:  # pre-norm blocks add the attention output straight onto the residual stream
            post_attention = block_input + attention_output
        ffn_down = arch.layer_path(index, arch.ffn_down_proj)
        angles = _rotary_angles(records, path)
        layers.append(
            LayerTrace(
                index=index,
                path=block,
                input=activations[f"{block}.hook_in"],
                query=_recorded(activations, f"{path}.hook_query", query),
                key=_recorded(activations, f"{path}.hook_key", key),
                value=_recorded(activations, f"{path}.hook_value", value),
                attention_bias=None if bias is None else _numpy(bias),
                attention_allowed=_frozen(allowed.numpy().copy()),
                attention_probs=activations.get(f"{path}.hook_pattern") if arch.attention_probe == "interface" else _numpy(probs),
                attention_context=_numpy(_split_heads(records[f"{out_proj}.hook_in"], info.n_heads)),
                attention_output=activations[f"{out_proj}.hook_out"],
                post_attention=activations[f"{arch.layer_path(index, arch.post_attention)}.hook_out"] if arch.post_attention else _numpy(post_attention),
                ffn_activations=activations[f"{ffn_down}.hook_in"],
                ffn_output=activations[f"{ffn_down}.hook_out"],
                output=activations[f"{block}.hook_out"],
                attention_scale=scale,
                rotary_angles=None if angles is None else _numpy(angles),
            )
        )

    def optional(path):
        return activations.get(f"{path}.hook_out") if path else None

    first_angles = layers[0].rotary_angles if layers else None
    embeddings = EmbeddingStage(
        token_rows=optional(arch.word_embeddings),
        position_rows=optional(arch.position_embeddings),
        token_type_rows=optional(arch.token_type_embeddings),
        output=optional(arch.embedding_output),
        rotary_angles=first_angles,
    )

    hidden = last_hidden[0].float().cpu()
    mask = torch.ones(1, seq, dtype=torch.long)
    pooled = {name: _numpy(function(hidden.unsqueeze(0), mask)[0]) for name, function in POOLING_FUNCTIONS.items()}
    weights = _token_weight_vector(tokens, token_weights)
    if weights is not None:
        pooled["idf"] = _numpy(weighted_mean_pooling(hidden.unsqueeze(0), mask, torch.as_tensor(weights).unsqueeze(0))[0])
    native = info.default_pooling
    native_vector = pool(native, hidden.unsqueeze(0), mask)[0]
    if info.normalizes:
        native_vector = l2_normalize(native_vector)

    return Trace(
        model=info,
        tokens=tokens,
        embeddings=embeddings,
        layers=tuple(layers),
        last_hidden_state=_numpy(hidden),
        pooled=pooled,
        native_pooling=native,
        native_embedding=_numpy(native_vector),
        activations=activations,
    )
