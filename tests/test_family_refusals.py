"""A model whose code lives in its own repository (config ``auto_map``, loaded only with
trust_remote_code) stays refused, and the refusal names what the model needs; a model that only
ships its own tokenizer code is not refused for that."""

from __future__ import annotations

import json

import pytest

from core import UnsupportedArchitectureError, load_model

from .st_tiny import build_st_folder

REMOTE = "its code lives in the repository (trust_remote_code)"

# (config.json, the class the refusal must name): an id transformers has never heard of (gte-multilingual's
# "new"), a type transformers knows but the tracer does not (nomic-embed's "nomic_bert"), and jina-v2's
# "bert" whose repository replaces BertModel with its own code (transformers would build BertModel).
CASES = {
    "unknown-type": ({"model_type": "new", "architectures": ["NewModel"], "hidden_size": 32,
                      "auto_map": {"AutoConfig": "Alibaba-NLP/new-impl--configuration.NewConfig",
                                   "AutoModel": "Alibaba-NLP/new-impl--modeling.NewModel"}},
                     "Alibaba-NLP/new-impl--modeling.NewModel"),
    "known-to-transformers": ({"model_type": "nomic_bert", "architectures": ["NomicBertModel"], "n_embd": 32,
                               "auto_map": {"AutoConfig": "nomic-ai/nomic-bert-2048--configuration_hf_nomic_bert.NomicBertConfig",
                                            "AutoModel": "nomic-ai/nomic-bert-2048--modeling_hf_nomic_bert.NomicBertModel"}},
                              "NomicBertModel"),
    "a-type-the-tracer-knows": ({"model_type": "bert", "architectures": ["JinaBertModel"], "hidden_size": 32,
                                 "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64, "vocab_size": 100,
                                 "auto_map": {"AutoConfig": "jinaai/jina-bert-implementation--configuration_bert.JinaBertConfig",
                                              "AutoModel": "jinaai/jina-bert-implementation--modeling_bert.JinaBertModel"}},
                                "JinaBertModel"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_repository_code_is_refused_by_name(tmp_path, case):
    config, needed_class = CASES[case]
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(UnsupportedArchitectureError) as raised:
        load_model(str(tmp_path), "cpu")
    message = str(raised.value)
    assert REMOTE in message and "runs only transformers' own code" in message
    assert f"model_type {config['model_type']!r}" in message and needed_class in message
    assert str(tmp_path) in message  # names the model asked for


def test_a_repository_tokenizer_alone_is_not_a_reason_to_refuse(tmp_path):
    folder = build_st_folder(tmp_path)
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["auto_map"] = {"AutoTokenizer": ["some/repo--tokenization.SlowTokenizer", None]}
    config_path.write_text(json.dumps(config), encoding="utf-8")
    assert load_model(str(folder), "cpu").info.family == "BERT"
