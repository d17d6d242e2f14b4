"""Failures a hosted explorer meets: a model over the size cap, a GPU that runs out of memory,
a bug inside one page. Each is refused or survived with a message, never a stack trace."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers

from core import ModelTooLargeError, embed_texts, load_model, trace_text
from core.models.bundled import bundled_model_dir
from core.models.device_fallback import is_device_failure
from core.models.loading import DEFAULT_MAX_MODEL_MB, estimated_parameters, max_model_megabytes
from tests.tiny_models import build_tiny

APP = Path(__file__).resolve().parent.parent / "app.py"


def _forbid_weight_downloads(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("weights or tokenizer were fetched for a model over the cap")

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", refuse)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", refuse)


# ---------------------------------------------------------------------------------------------
# The size cap: refused before a weight file is fetched
# ---------------------------------------------------------------------------------------------


def test_the_cap_comes_from_the_environment(monkeypatch):
    from core.hosting.settings import SettingsError, reset

    monkeypatch.delenv("EXPLORER_MAX_MODEL_MB", raising=False)
    reset()
    assert max_model_megabytes() == DEFAULT_MAX_MODEL_MB == 2000
    for value, expected in (("750", 750), ("0", None)):
        monkeypatch.setenv("EXPLORER_MAX_MODEL_MB", value)
        reset()  # settings are read once per process; a changed environment is read after a reset
        assert max_model_megabytes() == expected
    monkeypatch.setenv("EXPLORER_MAX_MODEL_MB", "lots")
    reset()
    with pytest.raises(SettingsError, match="'max_model_mb' is a number"):  # a typo is reported, not ignored
        max_model_megabytes()


def test_parameters_are_counted_from_the_config_alone(bundled):
    # the bundled model's real parameter count, from its config on the meta device
    assert estimated_parameters(bundled.torch_module.config) == sum(p.numel() for p in bundled.torch_module.parameters())


def test_a_local_folder_over_the_cap_is_refused_before_loading(tmp_path, monkeypatch):
    config = json.loads((bundled_model_dir() / "config.json").read_text())
    config.update(num_hidden_layers=24, hidden_size=1024, intermediate_size=4096, num_attention_heads=16)
    folder = tmp_path / "bert-large-ish"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))  # no weights at all: they must never be needed
    monkeypatch.setenv("EXPLORER_MAX_MODEL_MB", "500")
    _forbid_weight_downloads(monkeypatch)
    with pytest.raises(ModelTooLargeError, match=r"335 million parameters \(1,278 MB in float32\).*up to 500 MB"):
        load_model(str(folder), "cpu")


def test_a_hub_model_over_the_cap_is_refused_before_its_weights_are_fetched(monkeypatch):
    big = transformers.LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                                   num_attention_heads=32, vocab_size=32000)
    monkeypatch.setattr("core.models.loading._sentence_transformers_files", lambda source, is_local: (None, ""))
    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", lambda *args, **kwargs: big)
    _forbid_weight_downloads(monkeypatch)
    monkeypatch.delenv("EXPLORER_MAX_MODEL_MB", raising=False)
    with pytest.raises(ModelTooLargeError, match="6,607 million parameters.*not downloaded"):
        load_model("someone/seven-billion", "cpu")


def test_a_model_under_the_cap_loads(tmp_path, monkeypatch):
    folder = tmp_path / "minilm"
    shutil.copytree(bundled_model_dir(), folder)
    monkeypatch.setenv("EXPLORER_MAX_MODEL_MB", "120")  # 22.7 M parameters = 87 MB in float32
    assert load_model(str(folder), "cpu").info.parameter_count == 22_713_216
    monkeypatch.setenv("EXPLORER_MAX_MODEL_MB", "50")
    with pytest.raises(ModelTooLargeError):
        load_model(str(folder), "cpu")


def test_the_page_refuses_a_large_model_and_keeps_the_current_one(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    folder = tmp_path / "minilm-copy"
    shutil.copytree(bundled_model_dir(), folder)
    monkeypatch.setenv("EXPLORER_MAX_MODEL_MB", "50")
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()
    app.session_state["model_field"] = str(folder)
    app.run()
    assert not app.exception
    errors = " ".join(e.value for e in app.error).replace("\\", "")  # messages are Markdown-escaped
    assert "up to 50 MB" in errors and "Still using sentence-transformers/all-MiniLM-L6-v2" in errors
    assert app.session_state["model_id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert app.session_state["model_field"] == str(folder)  # what the user typed stays in the box


# ---------------------------------------------------------------------------------------------
# The GPU runs out of memory: the same work runs on the CPU, with a message
# ---------------------------------------------------------------------------------------------


class _FailingDevice:
    """Make ``explorer`` behave like a model on a CUDA card that is out of memory: its info says
    cuda and every forward pass of its own module raises CUDA's out-of-memory error."""

    def __init__(self, explorer, error: BaseException):
        self.explorer, self.error, self.calls = explorer, error, 0
        explorer.info = dataclasses.replace(explorer.info, device="cuda")
        explorer.torch_module.register_forward_pre_hook(self._raise)

    def _raise(self, module, args):
        if module is self.explorer.torch_module:  # the CPU copy is another module: it runs
            self.calls += 1
            raise self.error


def _oom() -> torch.OutOfMemoryError:
    return torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 15.7 GiB total capacity)")


def test_device_failures_are_told_apart_from_input_errors():
    assert is_device_failure(_oom())
    assert is_device_failure(RuntimeError("CUDA error: an illegal memory access was encountered"))
    assert not is_device_failure(RuntimeError("The size of tensor a (3) must match the size of tensor b (4)"))
    assert not is_device_failure(ValueError("out of memory"))


def test_a_trace_falls_back_to_the_cpu_with_the_same_numbers():
    explorer, _ = build_tiny("bert", seed=3)
    reference, _ = build_tiny("bert", seed=3)
    failing = _FailingDevice(explorer, _oom())
    trace = trace_text(explorer, "The bank of the river")
    expected = trace_text(reference, "The bank of the river")
    assert failing.calls == 1
    assert trace.device_note and "cuda device failed (CUDA out of memory" in trace.device_note and "CPU" in trace.device_note
    assert trace.model.device == "cpu"
    np.testing.assert_array_equal(trace.hidden_states, expected.hidden_states)
    np.testing.assert_array_equal(trace.attentions, expected.attentions)
    twin = explorer.cpu_twin()
    trace_text(explorer, "again")
    assert explorer.cpu_twin() is twin and failing.calls == 2  # one CPU copy, made once
    assert expected.device_note is None


def test_embedding_falls_back_and_says_so():
    explorer, _ = build_tiny("bert", seed=4)
    reference, _ = build_tiny("bert", seed=4)
    _FailingDevice(explorer, _oom())
    notes = []
    vectors = embed_texts(explorer, ["one", "two words", "three words here"], on_device_fallback=notes.append)
    np.testing.assert_array_equal(vectors, embed_texts(reference, ["one", "two words", "three words here"]))
    assert len(notes) == 1 and "out of memory" in notes[0]


def test_an_input_error_on_the_device_is_not_hidden_by_a_fallback():
    explorer, _ = build_tiny("bert", seed=5)
    _FailingDevice(explorer, RuntimeError("The size of tensor a (3) must match the size of tensor b (4)"))
    with pytest.raises(RuntimeError, match="size of tensor"):
        trace_text(explorer, "hello")
    assert explorer._cpu_twin is None


def test_the_page_shows_the_fallback(monkeypatch):
    from streamlit.testing.v1 import AppTest

    import ui.state

    explorer, _ = build_tiny("bert", seed=6)
    _FailingDevice(explorer, _oom())
    monkeypatch.setattr(ui.state, "cached_model", lambda model_id, device: explorer)
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.session_state["text"] = "a text only this fallback test traces"
    app.run()
    assert not app.exception
    warnings = " ".join(w.value for w in app.warning)
    assert "cuda device failed" in warnings and "computed on the CPU" in warnings
    assert any("device: cpu" in c.value for c in app.caption)


# ---------------------------------------------------------------------------------------------
# A bug in one page leaves the frame, the text and the other pages working
# ---------------------------------------------------------------------------------------------


def test_a_crashing_page_leaves_the_others_working(monkeypatch):
    from streamlit.testing.v1 import AppTest

    import ui.figures

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug in a figure builder")

    monkeypatch.setattr(ui.figures, "vector_bar", broken)
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.session_state["text"] = "Kept across the crash"
    app.run()
    assert not app.exception  # no stack trace on the page
    assert any("unexpected problem (ZeroDivisionError)" in e.value for e in app.error)
    assert "a bug in a figure builder" not in " ".join(e.value for e in app.error)
    assert app.sidebar.text_area[0].value == "Kept across the crash"
    app.switch_page("pages/tokenization.py").run()
    assert not app.exception and not app.error
    assert app.sidebar.text_area[0].value == "Kept across the crash"
