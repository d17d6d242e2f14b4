"""Many texts → sentence vectors, in batches, without hooks (the fast path).

Texts are sorted by length so each batch pads little (as sentence-transformers does), the
model's lock is taken per batch so traces from other sessions can run in between, and a
``progress`` callback and ``should_stop`` check let a page show progress and stop early.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from ..models.device_fallback import run_with_cpu_fallback
from ..errors import InputTextError
from ..models.loading import ExplorerModel
from ..pipeline.pooling import l2_normalize, pool


class EmbeddingStopped(Exception):
    """``should_stop`` returned True; carries the vectors finished so far."""

    def __init__(self, done: int, total: int):
        super().__init__(f"stopped after {done} of {total} texts")
        self.done, self.total = done, total


def embed_texts(
    explorer: ExplorerModel,
    texts: Sequence[str],
    *,
    pooling: str | Sequence[str] | None = None,
    normalize: bool | None = None,
    batch_size: int = 32,
    layer: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    idf: np.ndarray | None = None,
    on_device_fallback: Callable[[str], None] | None = None,
) -> np.ndarray | dict[str, np.ndarray]:
    """Embed ``texts``: [N, d] for one pooling (the model's native one by default), or a dict of
    name → [N, d] when ``pooling`` is a list, all from one forward pass per batch.

    ``normalize`` defaults to what the model's own pipeline does; ``layer`` pools the hidden
    state after that layer (0 = embedding output) instead of the last one. ``idf`` is a
    vocabulary-sized weight vector (core.idf.idf_weights) for the 'idf' pooling. If the GPU runs
    out of memory the texts are embedded on the CPU and ``on_device_fallback`` gets the message.
    """
    vectors, _ = run_with_cpu_fallback(
        explorer,
        lambda model: _embed_on(model, texts, pooling=pooling, normalize=normalize, batch_size=batch_size, layer=layer,
                                progress=progress, should_stop=should_stop, idf=idf),
        notify=on_device_fallback,
    )
    return vectors


def _embed_on(explorer: ExplorerModel, texts, *, pooling, normalize, batch_size, layer, progress, should_stop, idf):
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise InputTextError("Expected a list of texts.")
    if len(texts) == 0:
        raise InputTextError("There are no texts to embed.")
    info = explorer.info
    if isinstance(pooling, (list, tuple)) and "idf" in pooling and idf is None or pooling == "idf" and idf is None:
        raise ValueError("the 'idf' pooling needs idf weights (core.idf.idf_weights)")
    idf_tensor = None if idf is None else torch.as_tensor(np.asarray(idf, dtype=np.float32))
    modes = [pooling or info.default_pooling] if pooling is None or isinstance(pooling, str) else list(pooling)
    normalize = info.normalizes if normalize is None else normalize
    tokenizer = explorer.tokenizer
    lengths = [len(t) for t in texts]
    order = np.argsort([-n for n in lengths], kind="stable")
    outputs = {mode: np.zeros((len(texts), info.d_model), dtype=np.float32) for mode in modes}
    device = explorer.device
    done = 0
    for start in range(0, len(texts), batch_size):
        if should_stop is not None and should_stop():
            raise EmbeddingStopped(done, len(texts))
        index = order[start : start + batch_size]
        batch = tokenizer(
            [texts[i] for i in index],
            padding=True,
            truncation=True,
            max_length=info.max_seq_length,
            return_tensors="pt",
        )
        batch = {key: value.to(device) for key, value in batch.items() if key in ("input_ids", "attention_mask", "token_type_ids")}
        if not explorer.architecture.token_type_embeddings:
            batch.pop("token_type_ids", None)
        with explorer.lock, torch.inference_mode():
            result = explorer.model(**batch, output_hidden_states=layer is not None)
        hidden = result.last_hidden_state if layer is None else result.hidden_states[layer]
        token_weights = None if idf_tensor is None else idf_tensor[batch["input_ids"].cpu()].to(hidden.device)
        for mode in modes:
            vectors = pool(mode, hidden, batch["attention_mask"], token_weights)
            if normalize:
                vectors = l2_normalize(vectors)
            outputs[mode][index] = vectors.float().cpu().numpy()
        done += len(index)
        if progress is not None:
            progress(done, len(texts))
    return outputs[modes[0]] if pooling is None or isinstance(pooling, str) else outputs
