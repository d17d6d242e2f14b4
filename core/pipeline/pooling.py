"""Pooling: many token vectors → one sentence vector.

Each mode is a named, mask-aware function of ``token_embeddings`` [B, T, d] and
``attention_mask`` [B, T] (1 = real token, 0 = padding), the shape of
sentence-transformers' ``Pooling`` module, so padded batches pool exactly like one
sentence alone.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

POOLING_LABELS = {
    "cls": "[CLS] token",
    "mean": "mean",
    "max": "max",
    "weightedmean": "position-weighted mean",
    "lasttoken": "last token",
    "idf": "IDF-weighted mean",
}


def _as_tensors(token_embeddings, attention_mask):
    if isinstance(token_embeddings, np.ndarray) and not token_embeddings.flags.writeable:
        token_embeddings = token_embeddings.copy()  # traces hand out read-only arrays; torch wants writable memory
    embeddings = torch.as_tensor(token_embeddings)
    if embeddings.dim() == 2:
        embeddings = embeddings.unsqueeze(0)
    if attention_mask is None:
        mask = torch.ones(embeddings.shape[:2], dtype=torch.int64, device=embeddings.device)
    else:
        mask = torch.as_tensor(attention_mask, device=embeddings.device)
        if mask.dim() == 1:
            mask = mask.unsqueeze(0)
    return embeddings, mask


def cls_pooling(token_embeddings, attention_mask=None) -> torch.Tensor:
    """The first real token ([CLS] for BERT), which also handles left padding."""
    embeddings, mask = _as_tensors(token_embeddings, attention_mask)
    first = mask.to(torch.int).argmax(dim=1)
    return embeddings[torch.arange(embeddings.shape[0], device=embeddings.device), first]


def mean_pooling(token_embeddings, attention_mask=None) -> torch.Tensor:
    embeddings, mask = _as_tensors(token_embeddings, attention_mask)
    weights = mask.unsqueeze(-1).to(embeddings.dtype)
    return (embeddings * weights).sum(dim=1) / torch.clamp(weights.sum(dim=1), min=1e-9)


def max_pooling(token_embeddings, attention_mask=None) -> torch.Tensor:
    embeddings, mask = _as_tensors(token_embeddings, attention_mask)
    return embeddings.masked_fill(mask.unsqueeze(-1) == 0, float("-inf")).max(dim=1).values


def max_pooling_winners(token_embeddings, attention_mask=None) -> torch.Tensor:
    """For each dimension, the index of the token whose value max pooling keeps: [B, d]."""
    embeddings, mask = _as_tensors(token_embeddings, attention_mask)
    return embeddings.masked_fill(mask.unsqueeze(-1) == 0, float("-inf")).argmax(dim=1)


def weighted_mean_pooling(token_embeddings, attention_mask=None, token_weights=None) -> torch.Tensor:
    """Mean weighted by ``token_weights`` [B, T] (e.g. IDF); padding always weighs 0."""
    embeddings, mask = _as_tensors(token_embeddings, attention_mask)
    if token_weights is None:
        raise ValueError("weighted mean pooling needs token weights")
    weights = torch.as_tensor(token_weights, dtype=embeddings.dtype, device=embeddings.device)
    if weights.dim() == 1:
        weights = weights.unsqueeze(0)
    weights = (weights * mask.to(embeddings.dtype)).unsqueeze(-1)
    return (embeddings * weights).sum(dim=1) / torch.clamp(weights.sum(dim=1), min=1e-9)


def position_weighted_mean_pooling(token_embeddings, attention_mask=None) -> torch.Tensor:
    """sentence-transformers' 'weightedmean': token i of each sentence weighs i (1-based), as in SGPT."""
    embeddings, mask = _as_tensors(token_embeddings, attention_mask)
    positions = torch.arange(1, embeddings.shape[1] + 1, device=embeddings.device, dtype=embeddings.dtype).view(1, -1)
    left_pad = mask.to(torch.int32).argmax(dim=1).view(-1, 1).to(embeddings.dtype)
    return weighted_mean_pooling(embeddings, mask, positions - left_pad)


def last_token_pooling(token_embeddings, attention_mask=None) -> torch.Tensor:
    """The last real token (what a decoder's causal attention lets see the whole text)."""
    embeddings, mask = _as_tensors(token_embeddings, attention_mask)
    seq_len = embeddings.shape[1]
    values, flipped = mask.flip(1).max(1)
    last = torch.where(values == 0, seq_len - 1, seq_len - flipped - 1)
    return embeddings[torch.arange(embeddings.shape[0], device=embeddings.device), last] * values.unsqueeze(-1).to(embeddings.dtype)


POOLING_FUNCTIONS: dict[str, Callable] = {
    "cls": cls_pooling,
    "mean": mean_pooling,
    "max": max_pooling,
    "weightedmean": position_weighted_mean_pooling,
    "lasttoken": last_token_pooling,
}


def pool(mode: str, token_embeddings, attention_mask=None, token_weights=None) -> torch.Tensor:
    if mode == "idf":
        return weighted_mean_pooling(token_embeddings, attention_mask, token_weights)
    if mode == "mean_sqrt_len_tokens":
        embeddings, mask = _as_tensors(token_embeddings, attention_mask)
        return mean_pooling(embeddings, mask) * torch.sqrt(torch.clamp(mask.sum(1, keepdim=True).to(embeddings.dtype), min=1e-9))
    try:
        function = POOLING_FUNCTIONS[mode]
    except KeyError:
        raise ValueError(f"Unknown pooling '{mode}'. Choose one of: {', '.join(POOLING_FUNCTIONS)}, idf.") from None
    return function(token_embeddings, attention_mask)


def l2_normalize(vectors):
    """Unit length along the last axis (numpy or torch); a zero vector stays zero."""
    if isinstance(vectors, torch.Tensor):
        return torch.nn.functional.normalize(vectors, p=2, dim=-1)
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    return array / np.maximum(norms, 1e-12)
