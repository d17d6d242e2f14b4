"""Where each model family keeps the activations the explorer shows.

One ``Architecture`` per family names its modules by dotted path (relative to the base
model, e.g. ``encoder.layer.{i}.attention.self``), the way TransformerLens names hook
points. The tracer registers hooks on exactly these paths and nothing else, so adding a
family means adding one entry here and a tiny-model test; ``core.models.hook_points`` turns
these paths into the model's named hook points.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


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
    position_kind: str = "learned"   # learned | rope | learned+relative | relative (T5: a learned bias per offset bucket only)
    causal: bool = False
    ffn_gated: bool = False          # act(gate) * up (Llama) or GLU (ModernBERT)
    attention_probe: str = "interface"  # interface: transformers' attention function; mpnet: hooks on q/k/v + relative bias
    ffn_activation: str = ""         # attribute path (relative to layer) of the activation module, for its name
    pre_norm: bool = False           # a norm before each sub-layer (GPT-2, Llama) rather than after (BERT)
    embedding_norm: str | None = None  # the norm applied to the summed embedding rows, if any
    rotary_embedding: str | None = None  # RoPE module computing (cos, sin) once for every layer
    # module computing a relative position bias once for every layer: MPNet's, or T5's (layer 0's
    # bias table, whose output every later layer reuses)
    relative_bias: str | None = None
    norm_kind: str = "LayerNorm"     # LayerNorm (mean and variance, bias) | RMSNorm (root mean square only, no bias)
    norm_weight_offset: float = 0.0  # the norm scales by (offset + weight): Gemma's RMSNorm uses 1 + weight
    # Gemma's "sandwich" norms: per layer, a norm on the sub-layer's output before it is added to the stream
    attention_output_norm: str | None = None
    ffn_output_norm: str | None = None
    # attribute path of a buffer the token rows are multiplied by before layer 1 (Gemma: √d_model)
    embedding_scale: str | None = None
    # model_type → transformers class to build instead of AutoModel's (T5: the encoder alone, as
    # sentence-transformers loads it)
    model_classes: tuple[tuple[str, str], ...] = ()
    # config attributes that change the block per checkpoint: a flag that makes a causal family
    # bidirectional (EmbeddingGemma's use_bidirectional_attention), one that says the FFN is gated (T5 v1.1)
    bidirectional_flag: str | None = None
    gated_flag: str | None = None

    def layer_path(self, index: int, relative: str) -> str:
        return f"{self.layers}.{index}.{relative}" if relative else f"{self.layers}.{index}"

    def for_config(self, config) -> "Architecture":
        """This family as one checkpoint's config builds it (causal or not, gated FFN or not)."""
        changes = {}
        if self.bidirectional_flag is not None:
            changes["causal"] = not bool(getattr(config, self.bidirectional_flag, False))
        if self.gated_flag is not None:
            changes["ffn_gated"] = bool(getattr(config, self.gated_flag, self.ffn_gated))
        return replace(self, **changes) if changes else self

    def model_class_name(self, model_type: str) -> str | None:
        """The transformers class this family builds for ``model_type`` (None: AutoModel's choice)."""
        return dict(self.model_classes).get(model_type)


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
    norm_kind="RMSNorm",
)

# EmbeddingGemma (Gemma3TextModel): RMSNorm of the (1 + weight) kind before *and* after each sub-layer,
# q/k RMSNorm inside attention, RoPE with two bases (sliding-window and global layers), token rows × √d.
_GEMMA3 = Architecture(
    family="Gemma 3",
    model_types=("gemma3_text",),
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
    norm_kind="RMSNorm",
    norm_weight_offset=1.0,
    attention_output_norm="post_attention_layernorm",
    ffn_output_norm="post_feedforward_layernorm",
    embedding_scale="embed_tokens.embed_scale",
    bidirectional_flag="use_bidirectional_attention",
)

# T5's encoder (sentence-t5, GTR): pre-norm blocks with T5LayerNorm (an RMSNorm), no position rows and no
# √d scaling of the scores, only a learned bias per relative-offset bucket computed in layer 0 and shared.
_T5 = Architecture(
    family="T5 encoder",
    model_types=("t5",),
    layers="encoder.block",
    attention="layer.0.SelfAttention",
    attention_out_proj="layer.0.SelfAttention.o",
    ffn_down_proj="layer.1.DenseReluDense.wo",
    # the stack's own embedding module (its weight is tied to the model's "shared" table); the stack's
    # dropout after it is the identity in eval mode
    word_embeddings="encoder.embed_tokens",
    embedding_output="encoder.embed_tokens",
    post_attention="layer.0",
    final_norm="encoder.final_layer_norm",
    position_kind="relative",
    ffn_activation="layer.1.DenseReluDense.act",
    pre_norm=True,
    relative_bias="encoder.block.0.layer.0.SelfAttention.relative_attention_bias",
    norm_kind="RMSNorm",
    model_classes=(("t5", "T5EncoderModel"),),
    gated_flag="is_gated_act",
)

ARCHITECTURES: tuple[Architecture, ...] = (_BERT, _DISTILBERT, _MPNET, _GPT2, _MODERNBERT, _LLAMA, _GEMMA3, _T5)


def supported_model_types() -> list[str]:
    return sorted(t for arch in ARCHITECTURES for t in arch.model_types)


def architecture_for(model_type: str) -> Architecture | None:
    for arch in ARCHITECTURES:
        if model_type in arch.model_types:
            return arch
    return None


def architecture_for_config(config) -> Architecture | None:
    """The family of ``config`` as that checkpoint builds it (see ``Architecture.for_config``)."""
    arch = architecture_for(getattr(config, "model_type", ""))
    return None if arch is None else arch.for_config(config)


def model_class(arch: Architecture, model_type: str):
    """The transformers class to load ``model_type`` with (``from_pretrained``): AutoModel unless the
    family names one."""
    import transformers

    name = arch.model_class_name(model_type)
    return transformers.AutoModel if name is None else getattr(transformers, name)


def build_from_config(arch: Architecture, config, **kwargs):
    """A model of this family built from ``config`` (random or uninitialised weights), of the class
    ``model_class`` loads: AutoModel.from_config, or the named class's own ``_from_config``."""
    import transformers

    cls = model_class(arch, config.model_type)
    return cls.from_config(config, **kwargs) if cls is transformers.AutoModel else cls._from_config(config, **kwargs)
