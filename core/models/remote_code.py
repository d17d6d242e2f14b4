"""Models whose code lives in their own repository are refused, by name.

A config's ``auto_map`` points transformers at Python files in the model's repository (loaded only with
``trust_remote_code=True``). The explorer never runs such code; without it transformers either fails
with a hint about ``trust_remote_code`` or, when the config's ``model_type`` is one of its own
(jina-embeddings-v2 says "bert"), quietly builds its own class, which is not the model the repository
describes. Either way the loader refuses with one message naming what the model needs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

# auto_map keys that replace the model or its config (a custom tokenizer alone is the tokenizer's business)
_MODEL_KEYS = ("AutoConfig", "AutoModel")


def remote_code_classes(config: Mapping | None) -> list[str]:
    """The repository-code classes a config's ``auto_map`` names for its config and model, as
    "AutoModel → repo--module.Class"; empty when the model runs on transformers' own code."""
    auto_map = (config or {}).get("auto_map") if isinstance(config, Mapping) else None
    if not isinstance(auto_map, Mapping):
        return []
    named = []
    for key, value in auto_map.items():
        if str(key).startswith(_MODEL_KEYS):
            targets = value if isinstance(value, (list, tuple)) else [value]
            named += [f"{key} → {target}" for target in targets if target]
    return named


def remote_code_refusal(display_id: str, config: Mapping | None) -> str | None:
    """The refusal message for a model whose code lives in its repository, else None."""
    classes = remote_code_classes(config)
    if not classes:
        return None
    model_type = config.get("model_type") or "unknown"
    return (f"'{display_id}' cannot be explored: its code lives in the repository (trust_remote_code); the explorer "
            f"runs only transformers' own code. It needs model_type {model_type!r} with {'; '.join(classes)}.")


def read_config_file(source: str, is_local: bool, subfolder: str = "") -> dict | None:
    """The model's config.json as a plain dict (a local folder's file, or the hub's cached copy); None
    when it cannot be read (then transformers' own error says why)."""
    try:
        if is_local:
            path = Path(source) / subfolder / "config.json"
        else:
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(source, "config.json", subfolder=subfolder or None))
        data = json.loads(path.read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - unreadable: AutoConfig's own failure is reported instead
        return None
    return data if isinstance(data, dict) else None
