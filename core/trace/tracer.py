"""One forward pass of one text, with every stage recorded: the data behind every page.

``trace_text`` asks the model (``ExplorerModel.forward``) to record every hook point it declares
(core.models.hook_points), then assembles an immutable ``Trace`` of read-only numpy arrays on the
CPU, and runs the model's own sentence-transformers pipeline (pooling, Dense, Normalize) on the
last hidden state.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np
import torch

from ..models.device_fallback import run_with_cpu_fallback
from ..models.explorer_model import ExplorerModel
from ..pipeline.pooling import POOLING_MODES, pool
from ..text.tokenization import TokenizedText
from .data import EmbeddingStage, LayerTrace, PipelineStage, Trace, frozen

__all__ = ["EmbeddingStage", "LayerTrace", "PipelineStage", "Trace", "trace_text"]


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    # No copy: recorded tensors are fresh module outputs that the model never writes to again
    # (checked for every family against independent references in tests/test_trace_reference.py);
    # the read-only flag stops anyone downstream from writing through the shared memory.
    return frozen(tensor.detach().to("cpu", torch.float32).numpy())


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


def _rotary_angles(records: Mapping, name: str | None) -> torch.Tensor | None:
    cos, sin = (records.get(f"{name}.0"), records.get(f"{name}.1")) if name else (None, None)
    if cos is None or sin is None:
        return None
    half = cos.shape[-1] // 2  # rotate_half pairs dimension i with i + d/2: one angle per pair
    return torch.atan2(sin[0, :, :half].float(), cos[0, :, :half].float())


class _Layer:
    """Reads one layer's records by stage (the names come from the model's hook registry)."""

    def __init__(self, explorer: ExplorerModel, records: Mapping, activations: Mapping, index: int):
        self.registry, self.records, self.activations, self.index = explorer.hook_points, records, activations, index
        self.n_heads = explorer.info.n_heads
        self.d_head = explorer.info.d_head

    def name(self, stage: str) -> str | None:
        point = self.registry.get(stage, self.index)
        return None if point is None else point.name

    def tensor(self, stage: str):
        name = self.name(stage)
        return None if name is None else self.records.get(name)

    def array(self, stage: str) -> np.ndarray | None:
        name = self.name(stage)
        return None if name is None else self.activations.get(name)

    def bias_record(self) -> torch.Tensor | None:
        """The recorded relative position bias of this layer (T5's via the probe, MPNet's as an argument)."""
        return self.tensor("attn.bias") if self.name("attn.bias") else self.tensor("attn.position_bias")

    def attention(self, seq: int):
        """(query, key, value, bias, allowed, probs, scale, probs array or None)."""
        if self.registry.has("attn.pattern", self.index):
            query = _heads(self.tensor("attn.query"), self.n_heads).float()
            key = _heads(self.tensor("attn.key"), self.n_heads).float()
            value = _heads(self.tensor("attn.value"), self.n_heads).float()
            scale = float(self.tensor("attn.scale"))
            bias = self.tensor("attn.bias")  # T5: the relative position bias added to the scores
            bias = None if bias is None else bias[0].float()
            return query, key, value, bias, _allowed(self.tensor("attn.mask"), seq), None, scale, self.array("attn.pattern")
        # MPNet: attention computed inline; rebuilt from its projections, bias and mask as its forward does
        query = _split_heads(self.tensor("attn.q_proj"), self.n_heads).float()
        key = _split_heads(self.tensor("attn.k_proj"), self.n_heads).float()
        value = _split_heads(self.tensor("attn.v_proj"), self.n_heads).float()
        scale = self.d_head ** -0.5
        scores = query @ key.transpose(-1, -2) * scale
        bias = self.tensor("attn.position_bias")
        if bias is not None:
            bias = bias[0].float()
            scores = scores + bias
        mask = self.tensor("attn.mask_argument")
        probs = torch.softmax(scores + (mask[0].float() if mask is not None else 0.0), dim=-1)
        return query, key, value, bias, _allowed(mask, seq), probs, scale, None


def _recorded(array: np.ndarray | None, tensor: torch.Tensor) -> np.ndarray:
    """The activation array already made when it holds exactly ``tensor``'s values (one object, so
    the trace holds it once), else a new array (e.g. grouped KV heads repeated)."""
    if array is not None and array.shape == tuple(tensor.shape):
        return array
    return _numpy(tensor)


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
    prompt: str | None = None,
    prompt_name: str | None = None,
) -> Trace:
    """Trace ``text`` through ``explorer``'s model. The prompt is chosen as sentence-transformers'
    ``encode`` chooses it (``prompt``, else ``prompt_name``, else the model's default prompt).
    ``token_weights`` (by token id, or one per token) adds an IDF-style weighted mean to the pooled
    vectors. If the GPU runs out of memory the trace is computed on the CPU and ``Trace.device_note``
    says so."""
    prompt_text = explorer.pipeline.resolve_prompt(prompt, prompt_name)
    trace, note = run_with_cpu_fallback(
        explorer, lambda model: _trace_on(model, text, prompt_text, token_weights=token_weights, max_length=max_length)
    )
    return trace if note is None else replace(trace, device_note=note)


def _trace_on(explorer: ExplorerModel, text: str, prompt: str, *, token_weights, max_length) -> Trace:
    from ..text.tokenization import validate_text

    info, registry = explorer.info, explorer.hook_points
    tokens = explorer.tokenize(validate_text(text), prompt=prompt, max_length=max_length)
    result = explorer.forward(tokens, record=registry.hook_dict.keys())
    records = result.records
    seq = len(tokens)
    # Every recorded tensor becomes a read-only numpy array once (batch axis dropped); the layer
    # fields below share these arrays rather than copying them again.
    activations = {
        name: _numpy(value[0] if value.dim() > 0 and value.shape[0] == 1 else value)
        for name, value in records.items()
        if isinstance(value, torch.Tensor)
    }

    layers = []
    shared_bias: dict[int, np.ndarray] = {}  # T5 hands layer 0's bias to every layer: one array for all
    for index in range(info.n_layers):
        layer = _Layer(explorer, records, activations, index)
        query, key, value, bias, allowed, probs, scale, probs_array = layer.attention(seq)
        block_input = layer.tensor("block.input")[0]
        attention_output = layer.tensor("attn.output")[0]
        attention_normed = layer.tensor("attn.output_norm")  # Gemma normalises the output before the add
        post_attention = layer.array("attn.residual")
        if post_attention is None:  # pre-norm blocks add the attention output straight onto the residual stream
            post_attention = _numpy(block_input + (attention_output if attention_normed is None else attention_normed[0]))
        # keyed by the recorded tensor (alive in records for the whole trace): one memory, one array
        bias_key = None if bias is None else layer.bias_record().data_ptr()
        if bias is not None and bias_key not in shared_bias:
            shared_bias[bias_key] = _numpy(bias)
        angles = _rotary_angles(records, layer.name("attn.rotary"))
        layers.append(
            LayerTrace(
                index=index,
                path=explorer.architecture.layer_path(index, ""),
                input=layer.array("block.input"),
                query=_recorded(layer.array("attn.query"), query),
                key=_recorded(layer.array("attn.key"), key),
                value=_recorded(layer.array("attn.value"), value),
                attention_bias=None if bias is None else shared_bias[bias_key],
                attention_allowed=frozen(allowed.numpy().copy()),
                attention_probs=probs_array if probs_array is not None else _numpy(probs),
                attention_context=_numpy(_split_heads(layer.tensor("attn.context"), info.n_heads)),
                attention_output=layer.array("attn.output"),
                post_attention=post_attention,
                ffn_activations=layer.array("ffn.activations"),
                ffn_output=layer.array("ffn.output"),
                output=layer.array("block.output"),
                attention_scale=scale,
                rotary_angles=None if angles is None else _numpy(angles),
                attention_output_normed=layer.array("attn.output_norm"),
                ffn_output_normed=layer.array("ffn.output_norm"),
            )
        )

    def stage(name):
        point = registry.get(name)
        return None if point is None else activations.get(point.name)

    token_scale = explorer.embedding_scale()
    embeddings = EmbeddingStage(
        # Gemma's embedding module multiplies the rows by √d inside its forward: the rows themselves are
        # read from the table, what enters layer 1 is the module's recorded output
        token_rows=(stage("embed.tokens") if token_scale is None
                    else _numpy(explorer.token_table_rows(tokens.input_ids))),
        position_rows=stage("embed.positions"),
        token_type_rows=stage("embed.token_types"),
        output=stage("embed.output"),
        rotary_angles=layers[0].rotary_angles if layers else None,
        token_scale=token_scale,
    )

    pipeline = explorer.pipeline
    hidden = result.last_hidden_state  # [1, T, d]
    mask = torch.ones(1, seq, dtype=torch.long)
    prompt_length = min(explorer.prompt_length(prompt), seq)
    excluded = 0 if pipeline.include_prompt else prompt_length
    pooled = {name: _numpy(pool(name, hidden, mask, prompt_length=excluded)[0]) for name in POOLING_MODES}
    weights = _token_weight_vector(tokens, token_weights)
    if weights is not None:
        pooled["idf"] = _numpy(pool("idf", hidden, mask, torch.as_tensor(weights).unsqueeze(0), prompt_length=excluded)[0])
    native_mode = pipeline.pooling_mode
    stages = [PipelineStage(f"{native_mode} pooling", pooled[native_mode])]
    for label, vectors in pipeline.after_pooling(torch.as_tensor(np.array(pooled[native_mode]))[None]):
        stages.append(PipelineStage(label, _numpy(vectors[0])))

    return Trace(
        model=info,
        tokens=tokens,
        embeddings=embeddings,
        layers=tuple(layers),
        last_hidden_state=_numpy(hidden[0]),
        pooled=pooled,
        native_pooling=native_mode,
        native_embedding=stages[-1].vector,
        pipeline_stages=tuple(stages),
        activations=activations,
        prompt=prompt,
        prompt_length=prompt_length,
    )
