"""Loading: the bundled model's checks, local folders, and clear refusals."""

import shutil

import pytest

from core import (
    DeviceError,
    ModelIntegrityError,
    ModelLoadError,
    UnsupportedArchitectureError,
    load_model,
    resolve_device,
    trace_text,
)
from core.models.bundled import bundled_model_dir, verify_bundled_model


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("minilm") / "model"
    shutil.copytree(bundled_model_dir(), folder)
    return folder


def test_bundled_model_reports_its_native_settings(bundled):
    info = bundled.info
    assert info.model_id == "sentence-transformers/all-MiniLM-L6-v2" and info.source == "bundled"
    assert info.max_seq_length == 256 and info.tokenizer_max_length == 512  # the sentence-transformers value wins
    assert info.native_pooling == "mean" and info.normalizes
    assert (info.n_layers, info.n_heads, info.d_model, info.d_ff, info.vocab_size) == (6, 12, 384, 1536, 30522)
    assert info.tokenizer_algorithm == "WordPiece" and info.device == resolve_device("auto")


def test_a_local_folder_loads_through_from_pretrained(model_copy, bundled):
    local = load_model(str(model_copy), "cpu")
    assert local.info.source == "local folder" and local.info.max_seq_length == 256
    assert trace_text(local, "hello").native_embedding.tolist() == trace_text(bundled, "hello").native_embedding.tolist()


def test_corrupted_weights_are_refused(model_copy, tmp_path, bundled):
    broken = tmp_path / "broken"
    shutil.copytree(model_copy, broken)
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelIntegrityError, match="checksum"):
        verify_bundled_model(broken)
    with pytest.raises(ModelLoadError, match="broken"):
        load_model(str(broken), "cpu")
    assert trace_text(bundled, "still serving").tokens.tokens[1] == "still"


def test_a_flipped_byte_fails_the_bundled_check(model_copy, tmp_path):
    altered = tmp_path / "altered"
    shutil.copytree(model_copy, altered)
    data = bytearray((altered / "model.safetensors").read_bytes())
    data[-10] ^= 0xFF  # same size, still a loadable file: only the checksum can tell
    (altered / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError):
        verify_bundled_model(altered)


def test_a_missing_weights_file_is_refused(model_copy, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(model_copy, partial)
    (partial / "model.safetensors").unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        verify_bundled_model(partial)
    with pytest.raises(ModelLoadError):
        load_model(str(partial), "cpu")


@pytest.mark.parametrize(
    "model_id, message",
    [
        ("no-such-owner/no-such-model-xyz", "no-such-owner/no-such-model-xyz"),
        ("../../etc/passwd", "No model folder"),
        ("/definitely/not/here", "No model folder"),
        ("bad id with spaces", "neither a local folder nor a Hugging Face model id"),
        ("a\x00b", "not a model id"),
    ],
)
def test_unknown_model_ids_get_a_clear_message(model_id, message):
    with pytest.raises(ModelLoadError, match=message):
        load_model(model_id, "cpu")


def test_an_architecture_the_tracer_cannot_read_is_named(tmp_path):
    from transformers import BartConfig

    BartConfig(d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
               encoder_ffn_dim=32, decoder_ffn_dim=32, vocab_size=100).save_pretrained(tmp_path)
    with pytest.raises(UnsupportedArchitectureError, match="bart"):
        load_model(str(tmp_path), "cpu")


def test_devices():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cuda", "mps", "cpu")
    with pytest.raises(DeviceError):
        resolve_device("tpu")
