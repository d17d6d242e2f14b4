"""Load a model for tracing: the bundled one, a local folder, or any Hugging Face id.

Everything goes through transformers' real ``from_pretrained`` path, never with
``trust_remote_code``. The sentence-transformers files next to the weights (max_seq_length,
pooling mode, Normalize) are read directly, so the model's own settings win over the
tokenizer's.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import re
import threading
import weakref
from pathlib import Path

import torch

from . import attention_probe  # noqa: F401  (registers the probe attention function)
from .architectures import Architecture, architecture_for, supported_model_types
from .bundled import BUNDLED_MODEL_ALIASES, BUNDLED_MODEL_ID, bundled_model_dir, verify_bundled_model
from .devices import resolve_device
from ..errors import ModelLoadError, ModelTooLargeError, UnsupportedArchitectureError
from .model_info import ModelInfo
from ..text.tokenization import tokenizer_algorithm

# owner/name as the hub spells it (a bare name like "gpt2" is a valid legacy id).
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")
_POOLING_FLAGS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


_LOADED: "weakref.WeakSet[ExplorerModel]" = None  # set below; every live ExplorerModel, for health checks


def loaded_models() -> list["ExplorerModel"]:
    """Every ExplorerModel still alive in this process (tests and soak runs check their hooks)."""
    return list(_LOADED)


class ExplorerModel:
    """One loaded model, shared by every session of the app; use it through core.trace/core.embedding."""

    def __init__(self, model, tokenizer, architecture: Architecture, info: ModelInfo, source_dir: str):
        self.model = model
        self.tokenizer = tokenizer
        self.architecture = architecture
        self.info = info
        self.source_dir = source_dir
        # Serialises forward passes: hooks live on this shared module, so two sessions must not
        # run it at once (each hook also checks its own recorder; this is the second guard).
        self.lock = threading.RLock()
        self.modules_by_path = dict(model.named_modules())
        self._cpu_twin: ExplorerModel | None = None
        self._twin_lock = threading.Lock()
        _LOADED.add(self)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def cpu_twin(self) -> "ExplorerModel":
        """A CPU copy of this model (same weights), made on first use: where work goes when the
        accelerator runs out of memory (core.device_fallback). The CPU model is its own twin."""
        if str(self.info.device) == "cpu" and self.device.type == "cpu":
            return self
        with self._twin_lock:
            if self._cpu_twin is None:
                from transformers import AutoModel

                config = copy.deepcopy(self.model.config)
                twin = AutoModel.from_config(config, attn_implementation=config._attn_implementation).float()
                # weights copied tensor by tensor to host memory: no second copy on the full device
                twin.load_state_dict({name: tensor.detach().to("cpu") for name, tensor in self.model.state_dict().items()})
                twin.eval().requires_grad_(False)
                info = dataclasses.replace(self.info, device="cpu")
                self._cpu_twin = ExplorerModel(twin, self.tokenizer, self.architecture, info, self.source_dir)
            return self._cpu_twin

    def module(self, path: str):
        return self.model.get_submodule(path)

    def embedding_table(self):
        """The token embedding matrix [vocab, d] as numpy (a view of the live weights, read-only)."""
        weight = self.module(self.architecture.word_embeddings).weight.detach().float().cpu().numpy()
        weight.setflags(write=False)
        return weight

    def position_table(self):
        """The learned absolute position table [positions, d], or None for RoPE models."""
        path = self.architecture.position_embeddings
        if path is None:
            return None
        weight = self.module(path).weight.detach().float().cpu().numpy()
        weight.setflags(write=False)
        return weight

    def __repr__(self) -> str:
        return f"ExplorerModel({self.info.model_id!r}, {self.info.family}, device={self.info.device})"


_LOADED = weakref.WeakSet()


def _read_json(path: Path) -> dict | list | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _sentence_transformers_files(source: str, is_local: bool) -> tuple[Path | None, str]:
    """Return (folder with the sentence-transformers files, subfolder of the transformer)."""
    if is_local:
        folder = Path(source)
    else:
        try:
            from huggingface_hub import snapshot_download

            folder = Path(
                snapshot_download(
                    source,
                    allow_patterns=["modules.json", "sentence_bert_config.json", "*/config.json", "config_sentence_transformers.json"],
                )
            )
        except Exception:  # noqa: BLE001 - a plain transformers model has none of these files
            return None, ""
    modules = _read_json(folder / "modules.json")
    subfolder = ""
    if isinstance(modules, list):
        for entry in modules:
            if str(entry.get("type", "")).endswith("Transformer"):
                subfolder = entry.get("path", "") or ""
    return folder, subfolder


def _sentence_transformers_settings(folder: Path | None, subfolder: str) -> dict:
    settings = {"max_seq_length": None, "pooling": None, "normalizes": False}
    if folder is None:
        return settings
    sbert = _read_json(folder / subfolder / "sentence_bert_config.json") or _read_json(folder / "sentence_bert_config.json")
    if isinstance(sbert, dict) and sbert.get("max_seq_length"):
        settings["max_seq_length"] = int(sbert["max_seq_length"])
    modules = _read_json(folder / "modules.json")
    if isinstance(modules, list):
        for entry in modules:
            kind = str(entry.get("type", ""))
            if kind.endswith("Pooling"):
                config = _read_json(folder / entry.get("path", "") / "config.json") or {}
                mode = config.get("pooling_mode")
                if isinstance(mode, list):
                    mode = mode[0] if mode else None
                if not mode:
                    mode = next((name for flag, name in _POOLING_FLAGS.items() if config.get(flag)), None)
                settings["pooling"] = mode
            elif kind.endswith("Normalize"):
                settings["normalizes"] = True
    return settings


def _resolve_source(model_id: str | None) -> tuple[str, str, bool]:
    """(what to load from, the source's label, whether it is the bundled model)."""
    requested = (model_id or "").strip()
    if requested.lower() in BUNDLED_MODEL_ALIASES:
        return str(bundled_model_dir()), "bundled", True
    if "\x00" in requested or len(requested) > 1000:
        raise ModelLoadError("That is not a model id or a folder.")
    path = Path(requested).expanduser()
    if path.is_dir():
        return str(path.resolve()), "local folder", False
    if path.is_absolute() or requested.startswith((".", "~")) or requested.count("/") > 1:
        raise ModelLoadError(f"No model folder at '{requested}'.")
    if not _HUB_ID.match(requested) or ".." in requested:
        raise ModelLoadError(
            f"'{requested}' is neither a local folder nor a Hugging Face model id (owner/name, e.g. "
            "sentence-transformers/all-mpnet-base-v2)."
        )
    return requested, "Hugging Face hub", False


def _explain_load_failure(model_id: str, source_label: str, error: Exception) -> str:
    text = str(error).strip().splitlines()[0].rstrip(".") if str(error).strip() else type(error).__name__
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if source_label == "Hugging Face hub":
        hint = (
            "The hub is switched off here (HF_HUB_OFFLINE=1), so only models already in the local cache can load."
            if offline
            else "Check the id, your internet connection, or whether the model is gated."
        )
        return f"Could not load '{model_id}' from the Hugging Face hub: {text[:300]}. {hint}"
    return f"Could not load the model from '{model_id}': {text[:300]}"


DEFAULT_MAX_MODEL_MB = 2000  # float32 weights in memory; a Community Cloud app has about 2.7 GB in all


def max_model_megabytes() -> float | None:
    """The size cap for models this process loads: $EXPLORER_MAX_MODEL_MB (0 = no cap), 2000 MB by default."""
    raw = os.environ.get("EXPLORER_MAX_MODEL_MB", "").strip()
    try:
        value = float(raw) if raw else DEFAULT_MAX_MODEL_MB
    except ValueError:
        value = DEFAULT_MAX_MODEL_MB
    return None if value <= 0 else value


def estimated_parameters(config) -> int:
    """Parameter count of the model ``config`` describes, without its weights: the model is built
    on torch's meta device (shapes only, no memory, nothing downloaded)."""
    from transformers import AutoModel

    with torch.device("meta"):
        skeleton = AutoModel.from_config(copy.deepcopy(config))
    return int(sum(p.numel() for p in skeleton.parameters()))


def _refuse_if_too_large(display_id: str, config) -> None:
    cap = max_model_megabytes()
    if cap is None:
        return
    try:
        parameters = estimated_parameters(config)
    except Exception:  # noqa: BLE001 - an exotic config: from_pretrained will judge it
        return
    megabytes = parameters * 4 / 2**20  # the explorer always runs in float32
    if megabytes > cap:
        raise ModelTooLargeError(
            f"'{display_id}' has {parameters / 1e6:,.0f} million parameters ({megabytes:,.0f} MB in float32); this server "
            f"loads models up to {cap:,.0f} MB (EXPLORER_MAX_MODEL_MB), so its weights were not downloaded."
        )


def _count(config, *names, default=None):
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return default


def load_model(model_id: str | None = None, device: str | None = None, *, verify: bool = True) -> ExplorerModel:
    """Load ``model_id`` (None or 'bundled' for all-MiniLM-L6-v2) onto ``device`` ('auto' by default)."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    source, label, is_bundled = _resolve_source(model_id)
    display_id = BUNDLED_MODEL_ID if is_bundled else (model_id or "").strip()
    device_name = resolve_device(device)
    if is_bundled and verify:
        verify_bundled_model(Path(source))
    folder, subfolder = _sentence_transformers_files(source, label != "Hugging Face hub")
    settings = _sentence_transformers_settings(folder, subfolder)
    load_kwargs = {"trust_remote_code": False}
    if subfolder:
        load_kwargs["subfolder"] = subfolder

    # transformers logs (not raises) many recoverable issues; keep them out of the app's output.
    logging.getLogger("transformers").setLevel(logging.ERROR)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        config = AutoConfig.from_pretrained(source, **load_kwargs)
    except Exception as error:  # noqa: BLE001 - every failure becomes one clear message
        raise ModelLoadError(_explain_load_failure(display_id, label, error)) from error
    architecture = architecture_for(getattr(config, "model_type", ""))
    if architecture is None:
        raise UnsupportedArchitectureError(
            f"'{display_id}' is a {getattr(config, 'model_type', 'unknown')!r} model; the tracer knows where the "
            f"activations live only for: {', '.join(supported_model_types())}."
        )
    if not is_bundled:
        _refuse_if_too_large(display_id, config)  # before a single weight file is fetched
    attn = "eager" if architecture.attention_probe == "mpnet" else attention_probe.EXPLORER_ATTENTION
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **load_kwargs)
        model = AutoModel.from_pretrained(source, config=config, attn_implementation=attn, dtype=torch.float32, **load_kwargs)
    except Exception as error:  # noqa: BLE001
        raise ModelLoadError(_explain_load_failure(display_id, label, error)) from error
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(f"'{display_id}' has no fast tokenizer; the explorer needs one for character offsets.")
    if tokenizer.pad_token is None:
        # Decoders (GPT-2, Llama) ship without one; padding only ever pads batches, never traces.
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    model.eval().requires_grad_(False)
    try:
        model.to(device_name)
    except Exception as error:  # noqa: BLE001 - e.g. CUDA out of memory
        raise ModelLoadError(f"Could not move '{display_id}' to {device_name}: {str(error)[:200]}") from error
    return ExplorerModel(model, tokenizer, architecture, _model_info(display_id, label, model, tokenizer, config, architecture, settings, device_name), source)


def build_model_from_config(config, tokenizer, device: str | None = None, *, model_id: str = "tiny model", pooling: str | None = None) -> ExplorerModel:
    """An ExplorerModel around a randomly initialised model built from ``config`` (tests, offline demos)."""
    from transformers import AutoModel

    architecture = architecture_for(config.model_type)
    if architecture is None:
        raise UnsupportedArchitectureError(f"Unsupported model type {config.model_type!r}.")
    attn = "eager" if architecture.attention_probe == "mpnet" else attention_probe.EXPLORER_ATTENTION
    config = copy.deepcopy(config)  # from_config writes the attention choice into the config it is given
    model = AutoModel.from_config(config, attn_implementation=attn).float()
    device_name = resolve_device(device)
    model.eval().requires_grad_(False).to(device_name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    settings = {"max_seq_length": None, "pooling": pooling, "normalizes": False}
    info = _model_info(model_id, "built from config", model, tokenizer, config, architecture, settings, device_name)
    return ExplorerModel(model, tokenizer, architecture, info, "")


def _model_info(display_id, label, model, tokenizer, config, architecture, settings, device_name) -> ModelInfo:
    d_model = int(_count(config, "hidden_size", "dim", "n_embd"))
    n_heads = int(_count(config, "num_attention_heads", "n_heads", "n_head"))
    n_kv = int(_count(config, "num_key_value_heads", default=n_heads))
    d_head = int(_count(config, "head_dim", default=d_model // n_heads) or d_model // n_heads)
    d_ff = int(_count(config, "intermediate_size", "hidden_dim", "n_inner", default=4 * d_model) or 4 * d_model)
    positions = _count(config, "max_position_embeddings", "n_positions")
    tok_max = getattr(tokenizer, "model_max_length", None)
    tok_max = int(tok_max) if tok_max and tok_max < 1_000_000 else None
    if settings["max_seq_length"]:
        max_len, why = settings["max_seq_length"], "sentence-transformers config"
    else:
        candidates = [v for v in (tok_max, positions) if v]
        max_len = min(candidates) if candidates else 512
        why = "tokenizer / position table"
        if architecture.position_embeddings and getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
            max_len = min(max_len, int(positions) - 2)  # RoBERTa's first two position rows are reserved
    # A window over 8k tokens makes per-head T×T maps unusably large on a CPU.
    max_len = int(min(max_len, 8192))
    activation = getattr(config, "hidden_act", None) or getattr(config, "activation_function", None) or getattr(config, "hidden_activation", None) or "gelu"
    default_pooling = settings["pooling"] or ("lasttoken" if architecture.causal else "mean")
    return ModelInfo(
        model_id=display_id,
        source=label,
        family=architecture.family,
        model_type=config.model_type,
        class_name=type(model).__name__,
        device=device_name,
        n_layers=len(model.get_submodule(architecture.layers)),
        n_heads=n_heads,
        n_kv_heads=n_kv,
        d_model=d_model,
        d_head=d_head,
        d_ff=d_ff,
        vocab_size=int(model.get_submodule(architecture.word_embeddings).weight.shape[0]),
        parameter_count=int(sum(p.numel() for p in model.parameters())),
        max_seq_length=max_len,
        tokenizer_max_length=tok_max,
        max_seq_length_source=why,
        tokenizer_algorithm=tokenizer_algorithm(tokenizer),
        native_pooling=settings["pooling"],
        default_pooling=default_pooling,
        normalizes=bool(settings["normalizes"]),
        position_kind=architecture.position_kind,
        causal=architecture.causal,
        ffn_gated=architecture.ffn_gated,
        ffn_activation=str(activation),
        pre_norm=architecture.pre_norm,
    )
