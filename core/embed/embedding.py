"""Many texts → sentence vectors, in batches, without recording hooks (the fast path).

``embed_texts`` is ``ExplorerModel.encode`` (the model's sentence-transformers pipeline end to
end: prompt, transformer, pooling, Dense, Normalize) with the CPU fallback: texts are tokenized
once and sorted by token count, batches are cut by padded tokens (core.models.batching) so each
pads little and its matrix products are large, the model's lock is taken per batch so traces
from other sessions run in between, and a ``progress`` callback and ``should_stop`` check let a page show
progress and stop early.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..models.device_fallback import run_with_cpu_fallback
from ..models.explorer_model import EmbeddingStopped, ExplorerModel

__all__ = ["EmbeddingStopped", "embed_texts"]


def embed_texts(
    explorer: ExplorerModel,
    texts: Sequence[str],
    *,
    pooling: str | Sequence[str] | None = None,
    normalize: bool | None = None,
    prompt: str | None = None,
    prompt_name: str | None = None,
    batch_size: int = 32,
    max_tokens: int | None = None,
    layer: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    idf: np.ndarray | None = None,
    on_device_fallback: Callable[[str], None] | None = None,
) -> np.ndarray | dict[str, np.ndarray]:
    """Embed ``texts``: [N, d] for one pooling (the model's own by default), or a dict of
    name → [N, d] when ``pooling`` is a list, all from one forward pass per batch (see
    ``ExplorerModel.encode`` for every option). If the GPU runs out of memory the texts are
    embedded on the CPU and ``on_device_fallback`` gets the message."""
    vectors, _ = run_with_cpu_fallback(
        explorer,
        lambda model: model.encode(texts, pooling=pooling, normalize=normalize, prompt=prompt, prompt_name=prompt_name,
                                   batch_size=batch_size, max_tokens=max_tokens, layer=layer, progress=progress, should_stop=should_stop, idf=idf),
        notify=on_device_fallback,
    )
    return vectors
