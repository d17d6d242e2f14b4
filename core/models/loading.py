"""Load a model for tracing: the bundled one, an offline model (``core.models.offline_models``), a local
folder, or any Hugging Face id.

Everything goes through transformers' real ``from_pretrained`` path, never with
``trust_remote_code``. The sentence-transformers files next to the weights (max_seq_length,
prompts, pooling, Dense, Normalize, similarity function) are read by
``core.pipeline.sentence_pipeline``, so the model's own settings win over the tokenizer's.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from pathlib import Path

import torch

from ..pipeline.sentence_pipeline import SentencePipeline, read_sentence_pipeline
from . import attention_probe
from .architectures import Architecture, architecture_for_config, build_from_config, model_class, supported_model_types
from ..hosting.settings import HostSettings, current_settings
from .bundled import BUNDLED_MODEL_ALIASES, BUNDLED_MODEL_ID, bundled_model_dir, verify_bundled_model
from .devices import resolve_device
from ..errors import ModelLoadError, ModelTooLargeError, UnsupportedArchitectureError
from .model_info import ModelInfo
from .remote_code import read_config_file, remote_code_refusal
from .offline_models import canonical_offline_id, is_untrained_twin, load_untrained_twin, offline_source
from ..text.tokenization import tokenizer_algorithm
from .explorer_model import ExplorerModel

# owner/name as the hub spells it (a bare name like "gpt2" is a valid legacy id).
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")


def quiet_transformers_logging() -> None:
    """transformers logs (not raises) many recoverable issues and draws download bars; a host calls
    this once at start-up (app.py, the CLI) to keep them out of its output. Loading never does."""
    logging.getLogger("transformers").setLevel(logging.ERROR)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


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
                    allow_patterns=["modules.json", "sentence_bert_config.json", "*/config.json", "config_sentence_transformers.json",
                                    "*_Dense/*"],
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


HUB_ONLY_FAILURE = ("Could not load '{model}' from the Hugging Face hub: it is not there, it is private or gated, or this "
                    "server cannot reach the hub.")


def _resolve_source(model_id: str | None, allow_folders: bool = True) -> tuple[str, str, bool]:
    """(what to load from, the source's label, whether it is the bundled model). Without
    ``allow_folders`` only hub ids load, and a name that is also a path on this machine fails with
    the words a missing hub id gets (a visitor learns nothing about the server's disk)."""
    requested = (model_id or "").strip()
    if requested.lower() in BUNDLED_MODEL_ALIASES:
        return str(bundled_model_dir()), "bundled", True
    if "\x00" in requested or len(requested) > 1000:
        raise ModelLoadError("That is not a model id or a folder.")
    offline_folder = offline_source(requested)  # the same model as the hub id, from installed packages
    if offline_folder is not None:
        return str(offline_folder), "offline package", False
    path = Path(requested).expanduser()
    if not allow_folders:
        if not _HUB_ID.match(requested) or ".." in requested or requested.startswith((".", "~")):
            raise ModelLoadError(f"'{requested[:200]}' is not a Hugging Face model id (owner/name).")
        if path.exists():  # transformers would read the folder of that name instead of the hub
            raise ModelLoadError(HUB_ONLY_FAILURE.format(model=requested))
        return requested, "Hugging Face hub", False
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


DEFAULT_MAX_MODEL_MB = HostSettings.max_model_mb  # float32 weights in memory; a Community Cloud app has about 2.7 GB in all


def max_model_megabytes() -> float | None:
    """The size cap for models this process loads: the host's ``max_model_mb`` ($EXPLORER_MAX_MODEL_MB;
    0 = no cap), 2000 MB by default."""
    return current_settings().max_model_megabytes


def estimated_parameters(config) -> int:
    """Parameter count of the model ``config`` describes, without its weights: the model is built
    on torch's meta device (shapes only, no memory, nothing downloaded)."""
    from transformers import AutoModel

    architecture = architecture_for_config(config)
    with torch.device("meta"):  # the class the explorer would load (T5: the encoder alone)
        skeleton = (AutoModel.from_config(copy.deepcopy(config)) if architecture is None
                    else build_from_config(architecture, copy.deepcopy(config)))
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


def load_model(model_id: str | None = None, device: str | None = None, *, verify: bool = True,
               allow_folders: bool = True) -> ExplorerModel:
    """Load ``model_id`` (None or 'bundled' for all-MiniLM-L6-v2) onto ``device`` ('auto' by default).
    ``allow_folders=False`` loads hub ids only (a hosted server's visitors)."""
    from transformers import AutoConfig, AutoTokenizer

    if is_untrained_twin(model_id):  # no weights to load: built from the bundled config with seeded random ones
        return load_untrained_twin(device, verify=verify)
    source, label, is_bundled = _resolve_source(model_id, allow_folders)
    display_id = BUNDLED_MODEL_ID if is_bundled else canonical_offline_id(model_id) or (model_id or "").strip()
    device_name = resolve_device(device)
    if is_bundled and verify:
        verify_bundled_model(Path(source))
    folder, subfolder = _sentence_transformers_files(source, label != "Hugging Face hub")
    load_kwargs = {"trust_remote_code": False}
    if subfolder:
        load_kwargs["subfolder"] = subfolder
    try:
        config = AutoConfig.from_pretrained(source, **load_kwargs)
    except Exception as error:  # noqa: BLE001 - every failure becomes one clear message
        refusal = remote_code_refusal(display_id, read_config_file(source, label != "Hugging Face hub", subfolder))
        if refusal is not None:
            raise UnsupportedArchitectureError(refusal) from error
        if not allow_folders:
            raise ModelLoadError(HUB_ONLY_FAILURE.format(model=display_id)) from error
        raise ModelLoadError(_explain_load_failure(display_id, label, error)) from error
    refusal = remote_code_refusal(display_id, config.to_dict())  # a known model_type can still name its own code
    if refusal is not None:
        raise UnsupportedArchitectureError(refusal)
    architecture = architecture_for_config(config)
    if architecture is None:
        raise UnsupportedArchitectureError(
            f"'{display_id}' is a {getattr(config, 'model_type', 'unknown')!r} model; the tracer knows where the "
            f"activations live only for: {', '.join(supported_model_types())}."
        )
    pipeline = read_sentence_pipeline(folder, subfolder, causal=architecture.causal)  # refuses what it cannot follow
    if not is_bundled:
        _refuse_if_too_large(display_id, config)  # before a single weight file is fetched
    attn = _attention_implementation(architecture)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **load_kwargs)
        model = model_class(architecture, config.model_type).from_pretrained(
            source, config=config, attn_implementation=attn, dtype=torch.float32, **load_kwargs)
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
    info = _model_info(display_id, label, model, tokenizer, config, architecture, pipeline, device_name)
    return ExplorerModel(model, tokenizer, architecture, info, pipeline, source)


def _attention_implementation(architecture: Architecture) -> str:
    # MPNet computes attention inline (no pluggable function): eager, with hooks on its projections.
    return "eager" if architecture.attention_probe == "mpnet" else attention_probe.install()


def _seeded_initialisation(model, std: float, seed: int, norm_weight_offset: float = 0.0) -> None:
    """Fresh random weights from a private generator (never torch's global one, which every session
    shares): linear and embedding weights ~ N(0, std), biases 0, norms the identity scale (weight 1,
    or 0 where the norm scales by 1 + weight, as Gemma's), as transformers initialises them."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            is_norm = "norm" in type(module).__name__.lower()
            for name, parameter in module.named_parameters(recurse=False):
                if is_norm:
                    parameter.fill_(1.0 - norm_weight_offset if name == "weight" else 0.0)
                elif name == "bias" or parameter.dim() < 2:
                    parameter.zero_()
                else:
                    values = torch.randn(parameter.shape, generator=generator, dtype=torch.float32) * std
                    parameter.copy_(values.to(parameter.device, parameter.dtype))
            padding = getattr(module, "padding_idx", None)
            if isinstance(module, torch.nn.Embedding) and padding is not None:
                module.weight[padding].zero_()


def build_model_from_config(config, tokenizer, device: str | None = None, *, model_id: str = "tiny model",
                            pooling: str | None = None, seed: int | None = None,
                            pipeline: SentencePipeline | None = None, source: str = "built from config") -> ExplorerModel:
    """An ExplorerModel around a randomly initialised model built from ``config`` (tests, offline demos).
    With ``seed`` the weights come from a private generator seeded with it (the same weights every time).
    ``pipeline`` (e.g. a trained model's own) replaces the default one of ``pooling``; ``source`` labels it."""
    architecture = architecture_for_config(config)
    if architecture is None:
        raise UnsupportedArchitectureError(f"Unsupported model type {config.model_type!r}.")
    attn = _attention_implementation(architecture)
    config = copy.deepcopy(config)  # from_config writes the attention choice into the config it is given
    if seed is None:
        model = build_from_config(architecture, config, attn_implementation=attn).float()
    else:
        # Built without drawing from torch's shared generator (as from_pretrained builds before loading),
        # then given its weights from a private one.
        from transformers.initialization import no_init_weights

        with no_init_weights():
            model = build_from_config(architecture, config, attn_implementation=attn).float()
        _seeded_initialisation(model, float(getattr(config, "initializer_range", 0.02) or 0.02), seed,
                               architecture.norm_weight_offset)
    device_name = resolve_device(device)
    model.eval().requires_grad_(False).to(device_name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    pipeline = pipeline or SentencePipeline(pooling or ("lasttoken" if architecture.causal else "mean"))
    info = _model_info(model_id, source, model, tokenizer, config, architecture, pipeline, device_name)
    return ExplorerModel(model, tokenizer, architecture, info, pipeline, "")


def _model_info(display_id, label, model, tokenizer, config, architecture, pipeline: SentencePipeline, device_name) -> ModelInfo:
    d_model = int(_count(config, "hidden_size", "dim", "n_embd"))
    n_heads = int(_count(config, "num_attention_heads", "n_heads", "n_head"))
    n_kv = int(_count(config, "num_key_value_heads", default=n_heads))
    d_head = int(_count(config, "head_dim", default=d_model // n_heads) or d_model // n_heads)
    d_ff = int(_count(config, "intermediate_size", "hidden_dim", "n_inner", "d_ff", default=4 * d_model) or 4 * d_model)
    positions = _count(config, "max_position_embeddings", "n_positions")
    tok_max = getattr(tokenizer, "model_max_length", None)
    tok_max = int(tok_max) if tok_max and tok_max < 1_000_000 else None
    if pipeline.max_seq_length:
        max_len, why = pipeline.max_seq_length, "sentence-transformers config"
    else:
        candidates = [v for v in (tok_max, positions) if v]
        max_len = min(candidates) if candidates else 512
        why = "tokenizer / position table"
        if architecture.position_embeddings and getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
            max_len = min(max_len, int(positions) - 2)  # RoBERTa's first two position rows are reserved
    # A window over 8k tokens makes per-head T×T maps unusably large on a CPU.
    max_len = int(min(max_len, 8192))
    activation = _count(config, "hidden_act", "activation_function", "hidden_activation", "dense_act_fn") or "gelu"
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
        native_pooling=pipeline.pooling_mode if pipeline.from_config else None,
        default_pooling=pipeline.pooling_mode,
        normalizes=pipeline.normalize,
        embedding_dimension=pipeline.dense[-1].out_features if pipeline.dense else d_model,
        dense_layers=tuple(layer.label for layer in pipeline.dense),
        prompts=tuple(pipeline.prompts.items()),
        default_prompt_name=pipeline.default_prompt_name,
        include_prompt=pipeline.include_prompt,
        similarity_fn_name=pipeline.similarity_fn_name,
        position_kind=architecture.position_kind,
        causal=architecture.causal,
        ffn_gated=architecture.ffn_gated,
        ffn_activation=str(activation),
        pre_norm=architecture.pre_norm,
        norm_kind=architecture.norm_kind,
        output_norms=architecture.attention_output_norm is not None,
    )


def untrained_copy(explorer: ExplorerModel, *, seed: int, model_id: str) -> ExplorerModel:
    """A model of the same architecture and tokenizer as ``explorer`` with fresh random weights from a
    private generator (``seed``), pooled with mean pooling."""
    return build_model_from_config(explorer.torch_module.config, explorer.tokenizer, device=explorer.info.device,
                                   model_id=model_id, pooling="mean", seed=seed)
