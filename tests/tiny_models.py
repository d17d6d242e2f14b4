"""Tiny randomly initialised models of each supported family, built offline from configs."""

from __future__ import annotations

import torch
import transformers as tf
from transformers import AutoTokenizer

from core import build_model_from_config, gpt2_tokenizer
from core.models.bundled import bundled_model_dir

BERT_VOCAB = 30522
GPT2_VOCAB = 50257


def _bert_tokenizer():
    return AutoTokenizer.from_pretrained(str(bundled_model_dir()))


def tiny_configs() -> dict:
    common = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    return {
        "bert": (tf.BertConfig(vocab_size=BERT_VOCAB, max_position_embeddings=64, **common), "bert"),
        "roberta": (tf.RobertaConfig(vocab_size=BERT_VOCAB, max_position_embeddings=66, pad_token_id=0, **common), "bert"),
        "distilbert": (tf.DistilBertConfig(vocab_size=BERT_VOCAB, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64), "bert"),
        "mpnet": (tf.MPNetConfig(vocab_size=BERT_VOCAB, max_position_embeddings=66, pad_token_id=0, **common), "bert"),
        "gpt2": (tf.GPT2Config(vocab_size=GPT2_VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64), "gpt2"),
        "modernbert": (
            tf.ModernBertConfig(
                vocab_size=BERT_VOCAB, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=64,
                max_position_embeddings=64, local_attention=4, global_attn_every_n_layers=2,
                pad_token_id=0, bos_token_id=101, eos_token_id=102, cls_token_id=101, sep_token_id=102,
            ),
            "bert",
        ),
        "llama": (
            tf.LlamaConfig(vocab_size=GPT2_VOCAB, num_key_value_heads=2, max_position_embeddings=64, bos_token_id=50256, eos_token_id=50256, **common),
            "gpt2",
        ),
        "qwen3": (
            tf.Qwen3Config(vocab_size=GPT2_VOCAB, num_key_value_heads=2, head_dim=8, max_position_embeddings=64, bos_token_id=50256, eos_token_id=50256, **common),
            "gpt2",
        ),
        # EmbeddingGemma's shape in miniature: bidirectional, a global layer between two sliding-window ones
        # (sliding_window 8 → |i − j| < 5), grouped KV heads, q/k norms, scale 1/√query_pre_attn_scalar
        "gemma3": (
            tf.Gemma3TextConfig(
                vocab_size=BERT_VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                num_key_value_heads=2, head_dim=8, max_position_embeddings=64, sliding_window=8,
                layer_types=["sliding_attention", "full_attention", "sliding_attention"], use_bidirectional_attention=True,
                pad_token_id=0, bos_token_id=101, eos_token_id=102,
            ),
            "bert",
        ),
        # T5's encoder with 8 buckets reaching 16 tokens: most offsets of a 17-token text share log-wide buckets
        "t5": (
            tf.T5Config(vocab_size=BERT_VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                        relative_attention_num_buckets=8, relative_attention_max_distance=16, feed_forward_proj="relu",
                        pad_token_id=0, eos_token_id=102, decoder_start_token_id=0),
            "bert",
        ),
        "t5-gated": (  # T5 v1.1 (GTR, sentence-t5 v1.1): gated-GELU FFN
            tf.T5Config(vocab_size=BERT_VOCAB, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_heads=4,
                        relative_attention_num_buckets=8, relative_attention_max_distance=16,
                        feed_forward_proj="gated-gelu", pad_token_id=0, eos_token_id=102, decoder_start_token_id=0),
            "bert",
        ),
    }


# The class transformers' own docs use for each family's encoder, where AutoModel would build another one
# (AutoModel gives T5's encoder-decoder): the reference is built from it, not from the explorer's choice.
REFERENCE_CLASSES = {"t5": tf.T5EncoderModel, "t5-gated": tf.T5EncoderModel}


def build_tiny(name: str, seed: int = 0):
    """(ExplorerModel with the probe attention, an independent eager copy with the same weights)."""
    config, tokenizer_kind = tiny_configs()[name]
    tokenizer = _bert_tokenizer() if tokenizer_kind == "bert" else gpt2_tokenizer()
    torch.manual_seed(seed)
    explorer = build_model_from_config(config, tokenizer, device="cpu", model_id=f"tiny-{name}")
    reference_class = REFERENCE_CLASSES.get(name)
    if reference_class is None:
        reference = tf.AutoModel.from_config(config, attn_implementation="eager").float().eval()
    else:
        reference = reference_class._from_config(config, attn_implementation="eager").float().eval()
    reference.load_state_dict(explorer.torch_module.state_dict())
    return explorer, reference
