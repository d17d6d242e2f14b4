"""The whole pipeline rebuilt by hand, stage by stage, from the model's own weights.

tokenize → look up rows of the embedding table → add position (and token-type) rows →
LayerNorm → run each transformer block → pool → normalise. For BERT-style encoders with
learned absolute positions; the result must equal what sentence-transformers' ``encode``
returns for the same text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ExplorerError
from ..models.loading import ExplorerModel
from ..pipeline.pooling import l2_normalize, pool
from ..text.tokenization import tokenize

SUPPORTED = ("bert", "distilbert")


@dataclass(frozen=True)
class PipelineStep:
    name: str
    shape: tuple[int, ...]
    description: str


@dataclass(frozen=True)
class Reconstruction:
    tokens: tuple[str, ...]
    steps: tuple[PipelineStep, ...]
    embedding: np.ndarray          # [d], the hand-built sentence vector


def reconstruct(explorer: ExplorerModel, text: str) -> Reconstruction:
    info = explorer.info
    if info.model_type not in SUPPORTED:
        raise ExplorerError(
            f"The step-by-step rebuild covers BERT-style encoders ({', '.join(SUPPORTED)}); "
            f"{info.model_id} is a {info.family} model."
        )
    tokens = tokenize(explorer.tokenizer, text, info.max_seq_length)
    arch, model = explorer.architecture, explorer.model
    ids = torch.as_tensor(tokens.input_ids, device=explorer.device)
    steps = [PipelineStep("tokenize", (len(ids),), f"{len(tokens.text)} characters → {len(ids)} token ids")]
    with explorer.lock, torch.inference_mode():
        table = model.get_submodule(arch.word_embeddings).weight
        hidden = table[ids]                                   # a plain row lookup: no computation
        steps.append(PipelineStep("look up rows", tuple(hidden.shape), f"row id of the {table.shape[0]:,} × {table.shape[1]} table"))
        positions = model.get_submodule(arch.position_embeddings).weight[: len(ids)]
        hidden = hidden + positions
        described = "add the learned position rows 0…T−1"
        if arch.token_type_embeddings:
            hidden = hidden + model.get_submodule(arch.token_type_embeddings).weight[0]
            described += " and the segment-A row"
        steps.append(PipelineStep("add positions", tuple(hidden.shape), described))
        norm = model.get_submodule(arch.embedding_output).LayerNorm
        hidden = norm(hidden).unsqueeze(0)
        steps.append(PipelineStep("LayerNorm", tuple(hidden.shape[1:]), "normalise each token vector (learned scale and shift)"))
        for index, block in enumerate(model.get_submodule(arch.layers)):
            output = block(hidden)
            hidden = output[0] if isinstance(output, (tuple, list)) else output
        steps.append(PipelineStep(f"{info.n_layers} transformer blocks", tuple(hidden.shape[1:]),
                                  "attention then feed-forward, each with a residual add and LayerNorm"))
        mode = info.default_pooling
        pooled = pool(mode, hidden, torch.ones(1, len(ids), dtype=torch.long, device=hidden.device))[0]
        steps.append(PipelineStep(f"{mode} pooling", tuple(pooled.shape), f"{len(ids)} token vectors → one"))
        if info.normalizes:
            pooled = l2_normalize(pooled)
            steps.append(PipelineStep("L2 normalise", tuple(pooled.shape), "scale to length 1"))
        vector = pooled.float().cpu().numpy()
    return Reconstruction(tokens.tokens, tuple(steps), vector)
