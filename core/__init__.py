"""The explorer's engine: load a model, trace a text through it, pool, embed.

Knows nothing of Streamlit; returns plain dataclasses and numpy arrays. Sub-packages:
``models`` (the only place a model runs), ``pipeline`` (the sentence-transformers pipeline a model
declares), ``text``, ``trace``, ``embed`` and ``analysis`` (the numbers pages show).

    >>> from core import load_model, trace_text
    >>> model = load_model()                      # the bundled all-MiniLM-L6-v2, offline
    >>> trace = trace_text(model, "The cat sat unhappily")
    >>> trace.tokens.tokens, trace.hidden_states.shape, trace.attentions.shape
"""

import importlib

# Names load on first use (PEP 562): `import core.hosting.settings` or `core.errors` stays light (no
# torch), while `from core import load_model` works as before.
_EXPORTS = {
    ".models.architectures": ("ARCHITECTURES", "Architecture", "supported_model_types"),
    ".models.bundled": ("BUNDLED_MODEL_ID",),
    ".models.devices": ("available_devices", "resolve_device"),
    ".embed.embedding": ("embed_texts",),
    ".errors": ("DeviceError", "ExplorerError", "InputTextError", "ModelIntegrityError", "ModelLoadError",
                "ModelTooLargeError", "UnsupportedArchitectureError"),
    ".models.hooks": ("count_registered_hooks",),
    ".models.explorer_model": ("ExplorerModel",),
    ".models.loading": ("build_model_from_config", "load_model"),
    ".models.model_info": ("ModelInfo",),
    ".pipeline.pooling": ("POOLING_FUNCTIONS", "POOLING_LABELS", "POOLING_MODES", "l2_normalize", "pool"),
    ".pipeline.sentence_pipeline": ("SentencePipeline",),
    ".text.tokenization": ("TokenizedText", "Truncation", "gpt2_tokenizer", "tokenize"),
    ".trace": ("EmbeddingStage", "LayerTrace", "Trace", "trace_text"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'core' has no attribute '{name}'")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_MODULE_OF))


__all__ = [
    "ARCHITECTURES", "Architecture", "BUNDLED_MODEL_ID", "DeviceError", "EmbeddingStage", "ExplorerError",
    "ExplorerModel", "InputTextError", "LayerTrace", "ModelInfo", "ModelIntegrityError", "ModelLoadError", "ModelTooLargeError",
    "POOLING_FUNCTIONS", "POOLING_LABELS", "POOLING_MODES", "SentencePipeline", "TokenizedText", "Trace", "Truncation", "UnsupportedArchitectureError",
    "available_devices", "build_model_from_config", "count_registered_hooks", "embed_texts", "gpt2_tokenizer",
    "l2_normalize", "load_model", "pool", "resolve_device", "supported_model_types", "tokenize", "trace_text",
]
