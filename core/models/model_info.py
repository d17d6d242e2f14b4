"""A plain summary of a loaded model: what the pages print next to every figure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelInfo:
    model_id: str             # what the user asked for (hub id, folder, or the bundled id)
    source: str               # "bundled", "offline package", "local folder", "Hugging Face hub" or a built model's label
    family: str               # e.g. "BERT", "GPT-2", "Llama / Qwen"
    model_type: str           # transformers' config.model_type
    class_name: str
    device: str
    n_layers: int
    n_heads: int
    n_kv_heads: int
    d_model: int
    d_head: int
    d_ff: int
    vocab_size: int
    parameter_count: int
    max_seq_length: int       # the window the explorer uses (sentence-transformers' value when it has one)
    tokenizer_max_length: int | None
    max_seq_length_source: str
    tokenizer_algorithm: str
    native_pooling: str | None  # from the sentence-transformers config; None for a plain model
    default_pooling: str        # the pipeline's pooling: native, else mean for encoders and lasttoken for decoders
    normalizes: bool            # the pipeline ends with Normalize
    position_kind: str          # learned | rope | learned+relative | relative
    causal: bool
    ffn_gated: bool
    ffn_activation: str
    pre_norm: bool
    # the rest of the sentence-transformers pipeline (core.pipeline.sentence_pipeline), as plain values
    embedding_dimension: int = 0    # length of the final sentence vector (after any Dense layers)
    dense_layers: tuple[str, ...] = ()  # e.g. ("Dense 768 → 3072, identity", …)
    prompts: tuple[tuple[str, str], ...] = ()  # (name, prompt text)
    default_prompt_name: str | None = None
    include_prompt: bool = True     # whether pooling covers the prompt's tokens
    similarity_fn_name: str = "cosine"
    # the block's normalisation: "LayerNorm" (subtracts the mean, then scales and shifts) or "RMSNorm"
    # (divides by the root mean square, scale only); output_norms: also a norm on each sub-layer's
    # output before the residual add (Gemma's sandwich norms)
    norm_kind: str = "LayerNorm"
    output_norms: bool = False
