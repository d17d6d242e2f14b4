"""The whole pipeline rebuilt by hand, stage by stage, from the model's own weights.

tokenize → look up rows of the embedding table → add position (and token-type) rows →
LayerNorm → run each transformer block → pool → Dense → normalise, each step one piece of the
model applied through ``ExplorerModel`` (a table, one module). For BERT-style encoders with
learned absolute positions; the result must equal what sentence-transformers' ``encode``
returns for the same text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ExplorerError
from ..models.explorer_model import ExplorerModel
from ..pipeline.pooling import pool

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
    info, arch = explorer.info, explorer.architecture
    if info.model_type not in SUPPORTED:
        raise ExplorerError(
            f"The step-by-step rebuild covers BERT-style encoders ({', '.join(SUPPORTED)}); "
            f"{info.model_id} is a {info.family} model."
        )
    prompt = explorer.pipeline.resolve_prompt()
    tokens = explorer.tokenize(text, prompt=prompt)
    ids = np.asarray(tokens.input_ids)
    steps = [PipelineStep("tokenize", (len(ids),), f"{len(tokens.text)} characters → {len(ids)} token ids")]
    table = explorer.weights("word_embeddings")
    hidden = table[ids].astype(np.float32)                  # a plain row lookup: no computation
    steps.append(PipelineStep("look up rows", hidden.shape, f"row id of the {table.shape[0]:,} × {table.shape[1]} table"))
    hidden = hidden + explorer.weights("position_embeddings")[: len(ids)]
    described = "add the learned position rows 0…T−1"
    if arch.token_type_embeddings:
        hidden = hidden + explorer.weights("token_type_embeddings")[0]
        described += " and the segment-A row"
    steps.append(PipelineStep("add positions", hidden.shape, described))
    hidden = explorer.apply_module(arch.embedding_norm, hidden)
    steps.append(PipelineStep("LayerNorm", hidden.shape, "normalise each token vector (learned scale and shift)"))
    for index in range(info.n_layers):
        hidden = explorer.apply_module(arch.layer_path(index, ""), hidden)
    steps.append(PipelineStep(f"{info.n_layers} transformer blocks", hidden.shape,
                              "attention then feed-forward, each with a residual add and LayerNorm"))
    pipeline = explorer.pipeline
    states = torch.as_tensor(hidden)[None]
    excluded = 0 if pipeline.include_prompt else explorer.prompt_length(prompt)
    vector = pool(pipeline.pooling_mode, states, torch.ones(1, len(ids), dtype=torch.long), prompt_length=excluded)
    steps.append(PipelineStep(f"{pipeline.pooling_mode} pooling", tuple(vector.shape[1:]), f"{len(ids)} token vectors → one"))
    for label, vector in pipeline.after_pooling(vector):
        described = "scale to length 1" if label == "Normalize" else "a learned linear layer on the sentence vector"
        steps.append(PipelineStep("L2 normalise" if label == "Normalize" else label, tuple(vector.shape[1:]), described))
    return Reconstruction(tokens.tokens, tuple(steps), vector[0].float().numpy())
