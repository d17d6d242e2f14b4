"""A model's sentence-transformers pipeline, read from its folder: one closed registry.

What ``SentenceTransformer(folder).encode`` does after the transformer, in order: a prompt put
before the text (``config_sentence_transformers.json``: ``prompts``, ``default_prompt_name``),
pooling (``1_Pooling/config.json``: one of ``POOLING_MODES``, ``include_prompt``), any ``Dense``
layers (linear + activation), ``Normalize``, and the similarity function used to compare two
embeddings (``similarity_fn_name``). The tracer, ``ExplorerModel.encode``, the pages and the
loader all read this one ``SentencePipeline``; a mode, activation or similarity it does not know
is refused when the model loads, never skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import torch

from ..errors import ModelLoadError
from .pooling import POOLING_MODES, l2_normalize, pool
from .similarity import SIMILARITY_FUNCTIONS

_LEGACY_POOLING_FLAGS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
# Dense activations by the class path sentence-transformers saves; nothing else is ever imported.
_ACTIVATIONS = {
    "torch.nn.modules.activation.Tanh": ("tanh", torch.tanh),
    "torch.nn.modules.linear.Identity": ("identity", lambda x: x),
    "torch.nn.modules.activation.ReLU": ("relu", torch.relu),
    "torch.nn.modules.activation.GELU": ("gelu", torch.nn.functional.gelu),
    "torch.nn.modules.activation.Sigmoid": ("sigmoid", torch.sigmoid),
    "torch.nn.modules.activation.SiLU": ("silu", torch.nn.functional.silu),
}


@dataclass(frozen=True)
class DenseLayer:
    """One sentence-transformers ``Dense`` module: activation(W x + b) (+ a residual where configured)."""

    in_features: int
    out_features: int
    activation: str                      # tanh, identity, relu, gelu, sigmoid, silu
    weight: torch.Tensor = field(repr=False, compare=False)            # [out, in]
    bias: torch.Tensor | None = field(repr=False, compare=False)       # [out]
    residual: torch.Tensor | None = field(default=None, repr=False, compare=False)  # [out, in] or identity when None
    use_residual: bool = False

    def apply(self, vectors: torch.Tensor) -> torch.Tensor:
        weight = self.weight.to(vectors.device, vectors.dtype)
        out = vectors @ weight.T
        if self.bias is not None:
            out = out + self.bias.to(vectors.device, vectors.dtype)
        out = _ACTIVATION_FUNCTIONS[self.activation](out)
        if self.use_residual:
            out = out + (vectors if self.residual is None else vectors @ self.residual.to(vectors.device, vectors.dtype).T)
        return out

    @property
    def label(self) -> str:
        return f"Dense {self.in_features} → {self.out_features}, {self.activation}"


_ACTIVATION_FUNCTIONS = {name: function for name, function in _ACTIVATIONS.values()}


@dataclass(frozen=True)
class SentencePipeline:
    pooling_mode: str
    include_prompt: bool = True
    dense: tuple[DenseLayer, ...] = ()
    normalize: bool = False
    prompts: Mapping[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    similarity_fn_name: str = "cosine"
    max_seq_length: int | None = None
    from_config: bool = False            # read from a sentence-transformers folder (else the explorer's defaults)

    def __post_init__(self):
        if self.pooling_mode not in POOLING_MODES:
            raise ModelLoadError(f"Unknown pooling mode '{self.pooling_mode}' in the model's Pooling config; "
                                 f"sentence-transformers knows {', '.join(POOLING_MODES)}.")
        if self.similarity_fn_name not in SIMILARITY_FUNCTIONS:
            raise ModelLoadError(f"Unknown similarity function '{self.similarity_fn_name}'; sentence-transformers knows "
                                 f"{', '.join(SIMILARITY_FUNCTIONS)}.")
        if self.default_prompt_name is not None and self.default_prompt_name not in self.prompts:
            raise ModelLoadError(f"The default prompt '{self.default_prompt_name}' is not among the model's prompts.")
        object.__setattr__(self, "prompts", MappingProxyType(dict(self.prompts)))

    def resolve_prompt(self, prompt: str | None = None, prompt_name: str | None = None) -> str:
        """The text put before the input, as SentenceTransformer.encode chooses it: an explicit prompt
        wins, then a named one, then the model's default prompt; "" for none."""
        if prompt is not None:
            return prompt
        if prompt_name is not None:
            if prompt_name not in self.prompts:
                from ..errors import InputTextError

                known = ", ".join(self.prompts) or "none"
                raise InputTextError(f"This model has no prompt named '{prompt_name}' (its prompts: {known}).")
            return self.prompts[prompt_name]
        if self.default_prompt_name is not None:
            return self.prompts[self.default_prompt_name]
        return ""

    def after_pooling(self, pooled: torch.Tensor, *, normalize: bool | None = None) -> list[tuple[str, torch.Tensor]]:
        """The stages after pooling, each (label, vectors): every Dense layer, then Normalize where the
        pipeline has it (or where ``normalize`` asks for it)."""
        stages = []
        vectors = pooled
        for layer in self.dense:
            vectors = layer.apply(vectors)
            stages.append((layer.label, vectors))
        if self.normalize if normalize is None else normalize:
            vectors = l2_normalize(vectors)
            stages.append(("Normalize", vectors))
        return stages

    def embed(self, hidden: torch.Tensor, attention_mask: torch.Tensor, *, mode: str | None = None,
              prompt_length: int = 0, token_weights=None, normalize: bool | None = None,
              dense: bool = True) -> torch.Tensor:
        """Token states [B, T, d] → sentence vectors: pooling (``mode``, default the pipeline's), then
        the Dense layers (unless ``dense`` is False) and Normalize (``normalize``, default the pipeline's)."""
        excluded = 0 if self.include_prompt else prompt_length
        vectors = pool(mode or self.pooling_mode, hidden, attention_mask, token_weights, prompt_length=excluded)
        if dense:
            for layer in self.dense:
                vectors = layer.apply(vectors)
        if self.normalize if normalize is None else normalize:
            vectors = l2_normalize(vectors)
        return vectors


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _pooling_mode(config: dict) -> str | None:
    mode = config.get("pooling_mode")
    if isinstance(mode, (list, tuple)):
        if len(mode) != 1:
            raise ModelLoadError(f"The model's Pooling concatenates several modes ({', '.join(map(str, mode))}); "
                                 "the explorer traces single-mode pooling only.")
        mode = mode[0]
    if mode:
        return str(mode)
    active = [name for flag, name in _LEGACY_POOLING_FLAGS.items() if config.get(flag)]
    if len(active) > 1:
        raise ModelLoadError(f"The model's Pooling concatenates several modes ({', '.join(active)}); "
                             "the explorer traces single-mode pooling only.")
    return active[0] if active else None


def _load_weights(folder: Path) -> dict[str, torch.Tensor]:
    safetensors_file = folder / "model.safetensors"
    if safetensors_file.is_file():
        from safetensors.torch import load_file

        return load_file(str(safetensors_file))
    bin_file = folder / "pytorch_model.bin"
    if bin_file.is_file():
        return torch.load(str(bin_file), map_location="cpu", weights_only=True)  # tensors only, never pickled code
    raise ModelLoadError(f"The Dense module in '{folder.name}' has no weights (model.safetensors or pytorch_model.bin).")


def _dense_layer(folder: Path) -> DenseLayer:
    config = _read_json(folder / "config.json")
    if not isinstance(config, dict):
        raise ModelLoadError(f"The Dense module in '{folder.name}' has no readable config.json.")
    activation_path = str(config.get("activation_function") or "torch.nn.modules.linear.Identity")
    if activation_path not in _ACTIVATIONS:
        raise ModelLoadError(f"The Dense module in '{folder.name}' uses the activation {activation_path}, which the "
                             f"explorer does not know ({', '.join(name for name, _ in _ACTIVATIONS.values())}).")
    for key in ("module_input_name", "module_output_name"):
        if config.get(key) not in (None, "sentence_embedding"):
            raise ModelLoadError(f"The Dense module in '{folder.name}' reads or writes '{config[key]}', not the sentence "
                                 "embedding; the explorer follows only the sentence embedding.")
    weights = _load_weights(folder)
    weight = weights.get("linear.weight")
    if weight is None:
        raise ModelLoadError(f"The Dense module in '{folder.name}' has no linear.weight.")
    in_features, out_features = int(config.get("in_features", weight.shape[1])), int(config.get("out_features", weight.shape[0]))
    if tuple(weight.shape) != (out_features, in_features):
        raise ModelLoadError(f"The Dense module in '{folder.name}' has weights of shape {tuple(weight.shape)}, "
                             f"not {out_features} × {in_features}.")
    bias = weights.get("linear.bias") if config.get("bias", True) else None
    return DenseLayer(in_features, out_features, _ACTIVATIONS[activation_path][0], weight.float(),
                      None if bias is None else bias.float(), weights.get("residual.weight"),
                      bool(config.get("use_residual", False)))


def read_sentence_pipeline(folder: Path | None, transformer_subfolder: str = "", *, causal: bool = False) -> SentencePipeline:
    """The pipeline a sentence-transformers folder declares; for a plain transformers model (no
    modules.json) the explorer's default: mean pooling for encoders, last token for decoders, no
    normalisation."""
    default_mode = "lasttoken" if causal else "mean"
    if folder is None or not isinstance(_read_json(folder / "modules.json"), list):
        return SentencePipeline(default_mode)
    modules = _read_json(folder / "modules.json")
    sbert = _read_json(folder / transformer_subfolder / "sentence_bert_config.json") or _read_json(folder / "sentence_bert_config.json")
    settings = _read_json(folder / "config_sentence_transformers.json") or {}
    mode, include_prompt, dense, normalize = None, True, [], False
    for entry in modules:
        kind = str(entry.get("type", ""))
        path = folder / (entry.get("path", "") or "")
        if kind.endswith("Pooling"):
            config = _read_json(path / "config.json") or {}
            mode = _pooling_mode(config)
            include_prompt = bool(config.get("include_prompt", True))
        elif kind.endswith("Dense"):
            dense.append(_dense_layer(path))
        elif kind.endswith("Normalize"):
            normalize = True
        elif kind.endswith("Transformer"):
            continue
        else:
            raise ModelLoadError(f"The model's pipeline has a {kind.rsplit('.', 1)[-1]} module, which the explorer does "
                                 "not know how to show; it follows Transformer, Pooling, Dense and Normalize.")
    prompts = settings.get("prompts") if isinstance(settings.get("prompts"), dict) else {}
    return SentencePipeline(
        pooling_mode=mode or default_mode,
        include_prompt=include_prompt,
        dense=tuple(dense),
        normalize=normalize,
        prompts={str(k): str(v or "") for k, v in prompts.items()},
        default_prompt_name=settings.get("default_prompt_name") or None,
        similarity_fn_name=str(settings.get("similarity_fn_name") or "cosine"),
        max_seq_length=int(sbert["max_seq_length"]) if isinstance(sbert, dict) and sbert.get("max_seq_length") else None,
        from_config=True,
    )

