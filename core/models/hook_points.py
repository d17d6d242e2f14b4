"""Every activation the explorer can record or patch, declared once per model (TransformerLens style).

A hook point is a name like ``encoder.layer.3.attention.self.hook_pattern``: the dotted path of
the module it sits on plus what it captures there. ``hook_points(architecture, n_layers)`` lists
them all for one model, each with its *stage* (``attn.pattern``, ``ffn.activations`` …), so the
tracer, the attention probe and the position ablation ask for ``stage, layer`` and get the one
name. This module is the record-name contract: nothing else spells a hook name.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from .architectures import Architecture

# How a hook point gets its value:
#   output    the module's output (a forward hook; patchable: the patch's return value replaces it)
#   input     the module's first input (a forward pre-hook)
#   argument  one argument the module is called with, by keyword or position (a forward pre-hook)
#   probe     handed over by the attention probe (core.models.attention_probe), no torch hook at all
KINDS = ("output", "input", "argument", "probe")

# stage → (kind, suffix of the hook name). Global stages have no layer; the rest exist per layer.
GLOBAL_STAGES: Mapping[str, tuple[str, str]] = MappingProxyType({
    "embed.tokens": ("output", "hook_out"),          # rows of the token embedding table
    "embed.positions": ("output", "hook_out"),       # learned absolute position rows
    "embed.token_types": ("output", "hook_out"),     # segment rows (BERT family)
    "embed.output": ("output", "hook_out"),          # what enters layer 1
    "final_norm": ("output", "hook_out"),            # the last norm of pre-norm models
    "relative_bias": ("output", "hook_out"),         # MPNet's / T5's relative position bias, computed once for all layers
    "rotary": ("output", "hook_out"),                # RoPE's (cos, sin), computed once for all layers
})
LAYER_STAGES: Mapping[str, tuple[str, str]] = MappingProxyType({
    "block.input": ("input", "hook_in"),
    "block.output": ("output", "hook_out"),
    "attn.query": ("probe", "hook_query"),           # [1, H_kv or H, T, d_head] after RoPE / q-norm
    "attn.key": ("probe", "hook_key"),
    "attn.value": ("probe", "hook_value"),
    "attn.pattern": ("probe", "hook_pattern"),       # softmax probabilities as the model used them
    "attn.scale": ("probe", "hook_scale"),
    "attn.mask": ("probe", "hook_mask"),             # the additive mask the attention function got
    "attn.bias": ("probe", "hook_bias"),             # T5: the relative position bias the attention function added
    "attn.q_proj": ("output", "hook_out"),           # MPNet: the projections themselves (attention is inline)
    "attn.k_proj": ("output", "hook_out"),
    "attn.v_proj": ("output", "hook_out"),
    "attn.position_bias": ("argument", "hook_position_bias"),
    "attn.mask_argument": ("argument", "hook_mask"),
    "attn.rotary": ("argument", "hook_rotary"),      # (cos, sin) as this layer received them: .0 and .1
    "attn.context": ("input", "hook_in"),            # heads' outputs joined, entering W_o
    "attn.output": ("output", "hook_out"),           # after W_o, before the residual add
    "attn.output_norm": ("output", "hook_out"),      # Gemma: the norm of the attention output, what the residual add adds
    "attn.residual": ("output", "hook_out"),         # post-LN families: the stream after the attention sub-layer
    "ffn.activations": ("input", "hook_in"),         # after the non-linearity (× gate), entering the down projection
    "ffn.output": ("output", "hook_out"),
    "ffn.output_norm": ("output", "hook_out"),       # Gemma: the norm of the FFN output, what the residual add adds
})


@dataclass(frozen=True)
class HookPoint:
    name: str                   # e.g. "encoder.layer.3.attention.self.hook_pattern"
    module: str                 # dotted path of the module it sits on ("" = the base model)
    stage: str                  # a key of GLOBAL_STAGES or LAYER_STAGES
    kind: str                   # one of KINDS
    layer: int | None = None    # 0-based, for per-layer stages
    keyword: str | None = None  # for kind "argument": the keyword, and the position when passed positionally
    position: int | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown hook kind {self.kind!r}")


def _name(module: str, suffix: str) -> str:
    return f"{module}.{suffix}" if module else suffix


def hook_points(arch: Architecture, n_layers: int) -> list[HookPoint]:
    """Every hook point of a model of this architecture with ``n_layers`` blocks. One name can serve
    two stages (Llama's token lookup is also what enters layer 1): it is listed once per stage."""
    points: list[HookPoint] = []

    def add(stage: str, module: str | None, layer: int | None = None, keyword: str | None = None,
            position: int | None = None) -> None:
        if module is None:
            return
        kind, suffix = (GLOBAL_STAGES if layer is None else LAYER_STAGES)[stage]
        points.append(HookPoint(_name(module, suffix), module, stage, kind, layer, keyword, position))

    add("embed.tokens", arch.word_embeddings)
    add("embed.positions", arch.position_embeddings)
    add("embed.token_types", arch.token_type_embeddings)
    add("embed.output", arch.embedding_output)
    add("final_norm", arch.final_norm)
    add("relative_bias", arch.relative_bias)
    add("rotary", arch.rotary_embedding)
    for index in range(n_layers):
        def at(relative: str | None) -> str | None:
            return None if relative is None else arch.layer_path(index, relative)

        attention = at(arch.attention)
        add("block.input", at(""), index)
        add("block.output", at(""), index)
        if arch.attention_probe == "interface":
            for stage in ("attn.query", "attn.key", "attn.value", "attn.pattern", "attn.scale", "attn.mask"):
                add(stage, attention, index)
            if arch.relative_bias is not None:  # T5 hands its (shared) bias to the attention function
                add("attn.bias", attention, index)
        else:  # MPNet computes attention inline: its projections, its bias and its mask are hooked instead
            for stage, projection in (("attn.q_proj", "q"), ("attn.k_proj", "k"), ("attn.v_proj", "v")):
                add(stage, f"{attention}.{projection}", index)
            add("attn.position_bias", attention, index, keyword="position_bias", position=2)
            add("attn.mask_argument", attention, index, keyword="attention_mask", position=1)
        if arch.position_kind == "rope":
            add("attn.rotary", attention, index, keyword="position_embeddings")
        add("attn.context", at(arch.attention_out_proj), index)
        add("attn.output", at(arch.attention_out_proj), index)
        add("attn.output_norm", at(arch.attention_output_norm), index)
        add("attn.residual", at(arch.post_attention), index)
        add("ffn.activations", at(arch.ffn_down_proj), index)
        add("ffn.output", at(arch.ffn_down_proj), index)
        add("ffn.output_norm", at(arch.ffn_output_norm), index)
    return points


class HookRegistry:
    """The hook points of one loaded model: ``hook_dict`` by name, and the name of a stage."""

    def __init__(self, arch: Architecture, n_layers: int):
        points = hook_points(arch, n_layers)
        by_name: dict[str, HookPoint] = {}
        for point in points:
            by_name.setdefault(point.name, point)
        self.hook_dict: Mapping[str, HookPoint] = MappingProxyType(by_name)
        self._by_stage = {(p.stage, p.layer): p for p in points}
        self._probe_by_module: dict[str, dict[str, str]] = {}
        for point in self.hook_dict.values():
            if point.kind == "probe":
                self._probe_by_module.setdefault(point.module, {})[point.stage] = point.name

    def get(self, stage: str, layer: int | None = None) -> HookPoint | None:
        return self._by_stage.get((stage, layer))

    def name(self, stage: str, layer: int | None = None) -> str:
        """The hook name of ``stage`` (in ``layer``); KeyError when this model has no such point."""
        point = self._by_stage.get((stage, layer))
        if point is None:
            where = "" if layer is None else f" in layer {layer}"
            raise KeyError(f"this model has no hook point for {stage}{where}")
        return point.name

    def has(self, stage: str, layer: int | None = None) -> bool:
        return (stage, layer) in self._by_stage

    def probe_names(self, module: str) -> Mapping[str, str] | None:
        """stage → hook name of the points the attention probe fills for this attention module."""
        return self._probe_by_module.get(module)

    def __contains__(self, name: str) -> bool:
        return name in self.hook_dict

    def __len__(self) -> int:
        return len(self.hook_dict)
