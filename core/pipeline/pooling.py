"""Pooling: many token vectors → one sentence vector.

Each mode is a named, mask-aware function of ``token_embeddings`` [B, T, d] and
``attention_mask`` [B, T] (1 = real token, 0 = padding), computed the way sentence-transformers'
``Pooling`` module computes it, so padded batches pool exactly like one sentence alone.
``POOLING_MODES`` is sentence-transformers' own closed set; ``idf`` (an IDF-weighted mean) is
this explorer's addition and is labelled so wherever it appears.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np
import torch

# sentence-transformers 6's Pooling.POOLING_MODES, in its order.
POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
EXPLORER_POOLINGS = ("idf",)  # not in sentence-transformers: the explorer's own what-if

POOLING_LABELS: Mapping[str, str] = MappingProxyType({
    "cls": "[CLS] token",
    "mean": "mean",
    "max": "max",
    "mean_sqrt_len_tokens": "sum ÷ √length",
    "weightedmean": "position-weighted mean",
    "lasttoken": "last token",
    "idf": "IDF-weighted mean",
})


def compared_poolings(info) -> list[str]:
    """The poolings the pages and the STS benchmark compare for a model (``ModelInfo``): [CLS], mean,
    max, position-weighted mean, the model's own mode where it is another one, the explorer's IDF
    mean, and the last token for decoders (where it is the one that has read the whole text)."""
    names = ["cls", "mean", "max", "weightedmean"]
    if info.default_pooling not in names and info.default_pooling != "lasttoken":
        names.append(info.default_pooling)
    names.append("idf")
    if info.causal or info.default_pooling == "lasttoken":
        names.append("lasttoken")
    return names


def check_pooling_mode(mode: str, *, allow_explorer: bool = True) -> str:
    allowed = POOLING_MODES + (EXPLORER_POOLINGS if allow_explorer else ())
    if mode not in allowed:
        raise ValueError(f"Unknown pooling '{mode}'. Choose one of: {', '.join(allowed)}.")
    return mode


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


def exclude_prompt(attention_mask: torch.Tensor, prompt_length: int) -> torch.Tensor:
    """The mask with each text's first ``prompt_length`` real tokens (its prompt, [CLS] included)
    set to 0, after any left padding: what Pooling(include_prompt=False) pools over."""
    mask = attention_mask.clone()
    if prompt_length <= 0:
        return mask
    pad_lengths = mask.to(torch.int32).argmax(dim=1)
    positions = torch.arange(mask.size(1), device=mask.device).unsqueeze(0)
    mask[positions < (pad_lengths + prompt_length).unsqueeze(1)] = 0
    return mask


def cls_pooling(token_embeddings, attention_mask=None) -> torch.Tensor:
    """The first token the mask keeps ([CLS] for BERT), which also handles left padding."""
    embeddings, mask = _as_tensors(token_embeddings, attention_mask)
    first = mask.to(torch.int).argmax(dim=1)
    return embeddings[torch.arange(embeddings.shape[0], device=embeddings.device), first]


def mean_pooling(token_embeddings, attention_mask=None) -> torch.Tensor:
    embeddings, mask = _as_tensors(token_embeddings, attention_mask)
    weights = mask.unsqueeze(-1).to(embeddings.dtype)
    return (embeddings * weights).sum(dim=1) / torch.clamp(weights.sum(dim=1), min=1e-9)


def mean_sqrt_len_pooling(token_embeddings, attention_mask=None) -> torch.Tensor:
    """Sum of the token vectors ÷ √(number of tokens): sentence-transformers' 'mean_sqrt_len_tokens'."""
    embeddings, mask = _as_tensors(token_embeddings, attention_mask)
    weights = mask.unsqueeze(-1).to(embeddings.dtype)
    return (embeddings * weights).sum(dim=1) / torch.sqrt(torch.clamp(weights.sum(dim=1), min=1e-9))


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


def position_weighted_mean_pooling(token_embeddings, attention_mask=None, padding_mask=None) -> torch.Tensor:
    """sentence-transformers' 'weightedmean': token i of each text weighs i (1-based from its first
    real token, as in SGPT). ``padding_mask`` (default: ``attention_mask``) says where the text
    starts; an excluded prompt keeps the remaining tokens' original weights."""
    embeddings, mask = _as_tensors(token_embeddings, attention_mask)
    start_mask = mask if padding_mask is None else torch.as_tensor(padding_mask, device=embeddings.device).reshape(mask.shape)
    positions = torch.arange(1, embeddings.shape[1] + 1, device=embeddings.device, dtype=embeddings.dtype).view(1, -1)
    left_pad = start_mask.to(torch.int32).argmax(dim=1).view(-1, 1).to(embeddings.dtype)
    return weighted_mean_pooling(embeddings, mask, positions - left_pad)


def last_token_pooling(token_embeddings, attention_mask=None) -> torch.Tensor:
    """The last real token (what a decoder's causal attention lets see the whole text)."""
    embeddings, mask = _as_tensors(token_embeddings, attention_mask)
    seq_len = embeddings.shape[1]
    values, flipped = mask.flip(1).max(1)
    last = torch.where(values == 0, seq_len - 1, seq_len - flipped - 1)
    return embeddings[torch.arange(embeddings.shape[0], device=embeddings.device), last] * values.unsqueeze(-1).to(embeddings.dtype)


# sentence-transformers' modes → their functions of (token_embeddings, attention_mask).
POOLING_FUNCTIONS: Mapping[str, Callable] = MappingProxyType({
    "cls": cls_pooling,
    "max": max_pooling,
    "mean": mean_pooling,
    "mean_sqrt_len_tokens": mean_sqrt_len_pooling,
    "weightedmean": position_weighted_mean_pooling,
    "lasttoken": last_token_pooling,
})


def pool(mode: str, token_embeddings, attention_mask=None, token_weights=None, *, prompt_length: int = 0) -> torch.Tensor:
    """Pool with ``mode``; ``token_weights`` [B, T] for 'idf'; ``prompt_length`` > 0 leaves each
    text's first prompt tokens out, as Pooling(include_prompt=False) does."""
    check_pooling_mode(mode)
    embeddings, mask = _as_tensors(token_embeddings, attention_mask)
    pooling_mask = exclude_prompt(mask, prompt_length) if prompt_length else mask
    if mode == "idf":
        return weighted_mean_pooling(embeddings, pooling_mask, token_weights)
    if mode == "weightedmean":
        return position_weighted_mean_pooling(embeddings, pooling_mask, padding_mask=mask)
    return POOLING_FUNCTIONS[mode](embeddings, pooling_mask)


def l2_normalize(vectors):
    """Unit length along the last axis (numpy or torch); a zero vector stays zero."""
    if isinstance(vectors, torch.Tensor):
        return torch.nn.functional.normalize(vectors, p=2, dim=-1)
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    return array / np.maximum(norms, 1e-12)
