"""Where each model family keeps the activations the explorer shows.

One ``Architecture`` per family names its modules by dotted path (relative to the base
model, e.g. ``encoder.layer.{i}.attention.self``), the way TransformerLens names hook
points. The tracer registers hooks on exactly these paths and nothing else, so adding a
family means adding one entry here and a tiny-model test; ``core.models.hook_points`` turns
these paths into the model's named hook points.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Architecture:
    family: str                      # short label shown in the app
    model_types: tuple[str, ...]     # transformers' config.model_type values it covers
    layers: str                      # the ModuleList of transformer blocks
    attention: str                   # per layer: the module that computes softmax(QK^T)V
    attention_out_proj: str          # per layer: the output projection W_o (its input is the heads' context)
    ffn_down_proj: str               # per layer: the FFN's last linear (its input is the activations after the non-linearity)
    word_embeddings: str
    embedding_output: str            # module whose output is the hidden state entering layer 1
    position_embeddings: str | None = None     # learned absolute position table, if any
    token_type_embeddings: str | None = None
    post_attention: str | None = None  # per layer: module whose output is the residual stream after attention (post-LN families)
    final_norm: str | None = None
    position_kind: str = "learned"   # learned | rope | learned+relative
    causal: bool = False
    ffn_gated: bool = False          # act(gate) * up (Llama) or GLU (ModernBERT)
    attention_probe: str = "interface"  # interface: transformers' attention function; mpnet: hooks on q/k/v + relative bias
    ffn_activation: str = ""         # attribute path (relative to layer) of the activation module, for its name
    pre_norm: bool = False           # LayerNorm before each sub-layer (GPT-2, Llama) rather than after (BERT)
    embedding_norm: str | None = None  # the norm applied to the summed embedding rows, if any
    rotary_embedding: str | None = None  # RoPE module computing (cos, sin) once for every layer
    relative_bias: str | None = None  # module computing a relative position bias once for every layer (MPNet)

    def layer_path(self, index: int, relative: str) -> str:
        return f"{self.layers}.{index}.{relative}" if relative else f"{self.layers}.{index}"


_BERT = Architecture(
    family="BERT",
    model_types=("bert", "roberta", "xlm-roberta", "camembert", "electra"),
    layers="encoder.layer",
    attention="attention.self",
    attention_out_proj="attention.output.dense",
    ffn_down_proj="output.dense",
    word_embeddings="embeddings.word_embeddings",
    embedding_output="embeddings",
    position_embeddings="embeddings.position_embeddings",
    token_type_embeddings="embeddings.token_type_embeddings",
    post_attention="attention",
    ffn_activation="intermediate.intermediate_act_fn",
    embedding_norm="embeddings.LayerNorm",
)

_DISTILBERT = Architecture(
    family="DistilBERT",
    model_types=("distilbert",),
    layers="transformer.layer",
    attention="attention",
    attention_out_proj="attention.out_lin",
    ffn_down_proj="ffn.lin2",
    word_embeddings="embeddings.word_embeddings",
    embedding_output="embeddings",
    position_embeddings="embeddings.position_embeddings",
    post_attention="sa_layer_norm",
    ffn_activation="ffn.activation",
    embedding_norm="embeddings.LayerNorm",
)

_MPNET = Architecture(
    family="MPNet",
    model_types=("mpnet",),
    layers="encoder.layer",
    attention="attention.attn",
    attention_out_proj="attention.attn.o",
    ffn_down_proj="output.dense",
    word_embeddings="embeddings.word_embeddings",
    embedding_output="embeddings",
    position_embeddings="embeddings.position_embeddings",
    post_attention="attention",
    position_kind="learned+relative",
    attention_probe="mpnet",
    ffn_activation="intermediate.intermediate_act_fn",
    embedding_norm="embeddings.LayerNorm",
    relative_bias="encoder.relative_attention_bias",
)

_GPT2 = Architecture(
    family="GPT-2",
    model_types=("gpt2",),
    layers="h",
    attention="attn",
    attention_out_proj="attn.c_proj",
    ffn_down_proj="mlp.c_proj",
    word_embeddings="wte",
    embedding_output="drop",
    position_embeddings="wpe",
    final_norm="ln_f",
    causal=True,
    ffn_activation="mlp.act",
    pre_norm=True,
)

_MODERNBERT = Architecture(
    family="ModernBERT",
    model_types=("modernbert",),
    layers="layers",
    attention="attn",
    attention_out_proj="attn.Wo",
    ffn_down_proj="mlp.Wo",
    word_embeddings="embeddings.tok_embeddings",
    embedding_output="embeddings",
    final_norm="final_norm",
    position_kind="rope",
    ffn_gated=True,
    ffn_activation="mlp.act",
    pre_norm=True,
    embedding_norm="embeddings.norm",
    rotary_embedding="rotary_emb",
)

_LLAMA = Architecture(
    family="Llama / Qwen",
    model_types=("llama", "mistral", "qwen2", "qwen3"),
    layers="layers",
    attention="self_attn",
    attention_out_proj="self_attn.o_proj",
    ffn_down_proj="mlp.down_proj",
    word_embeddings="embed_tokens",
    embedding_output="embed_tokens",
    final_norm="norm",
    position_kind="rope",
    causal=True,
    ffn_gated=True,
    ffn_activation="mlp.act_fn",
    pre_norm=True,
    rotary_embedding="rotary_emb",
)

ARCHITECTURES: tuple[Architecture, ...] = (_BERT, _DISTILBERT, _MPNET, _GPT2, _MODERNBERT, _LLAMA)


def supported_model_types() -> list[str]:
    return sorted(t for arch in ARCHITECTURES for t in arch.model_types)


def architecture_for(model_type: str) -> Architecture | None:
    for arch in ARCHITECTURES:
        if model_type in arch.model_types:
            return arch
    return None
