"""The explorer's engine: load a model, trace a text through it, pool, embed.

Knows nothing of Streamlit; returns plain dataclasses and numpy arrays. Sub-packages:
``models`` (the only place a model runs), ``pipeline`` (the sentence-transformers pipeline a model
declares), ``text``, ``trace``, ``embed`` and ``analysis`` (the numbers pages show).

    >>> from core import load_model, trace_text
    >>> model = load_model()                      # the bundled all-MiniLM-L6-v2, offline
    >>> trace = trace_text(model, "The cat sat unhappily")
    >>> trace.tokens.tokens, trace.hidden_states.shape, trace.attentions.shape
"""

from .models.architectures import ARCHITECTURES, Architecture, supported_model_types
from .models.bundled import BUNDLED_MODEL_ID
from .models.devices import available_devices, resolve_device
from .embed.embedding import embed_texts
from .errors import (
    DeviceError,
    ExplorerError,
    InputTextError,
    ModelIntegrityError,
    ModelLoadError,
    ModelTooLargeError,
    UnsupportedArchitectureError,
)
from .models.hooks import count_registered_hooks
from .models.explorer_model import ExplorerModel
from .models.loading import build_model_from_config, load_model
from .models.model_info import ModelInfo
from .pipeline.pooling import POOLING_FUNCTIONS, POOLING_LABELS, POOLING_MODES, l2_normalize, pool
from .pipeline.sentence_pipeline import SentencePipeline
from .text.tokenization import TokenizedText, Truncation, gpt2_tokenizer, tokenize
from .trace import EmbeddingStage, LayerTrace, Trace, trace_text

__all__ = [
    "ARCHITECTURES", "Architecture", "BUNDLED_MODEL_ID", "DeviceError", "EmbeddingStage", "ExplorerError",
    "ExplorerModel", "InputTextError", "LayerTrace", "ModelInfo", "ModelIntegrityError", "ModelLoadError", "ModelTooLargeError",
    "POOLING_FUNCTIONS", "POOLING_LABELS", "POOLING_MODES", "SentencePipeline", "TokenizedText", "Trace", "Truncation", "UnsupportedArchitectureError",
    "available_devices", "build_model_from_config", "count_registered_hooks", "embed_texts", "gpt2_tokenizer",
    "l2_normalize", "load_model", "pool", "resolve_device", "supported_model_types", "tokenize", "trace_text",
]
