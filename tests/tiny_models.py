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
    }


def build_tiny(name: str, seed: int = 0):
    """(ExplorerModel with the probe attention, an independent eager copy with the same weights)."""
    config, tokenizer_kind = tiny_configs()[name]
    tokenizer = _bert_tokenizer() if tokenizer_kind == "bert" else gpt2_tokenizer()
    torch.manual_seed(seed)
    explorer = build_model_from_config(config, tokenizer, device="cpu", model_id=f"tiny-{name}")
    reference = tf.AutoModel.from_config(config, attn_implementation="eager").float().eval()
    reference.load_state_dict(explorer.torch_module.state_dict())
    return explorer, reference
