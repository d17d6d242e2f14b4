"""The GPU path: on a machine with CUDA the same app runs the model there, with the same numbers.

Skipped, saying why, where no CUDA device exists (the CPU path is what every other test checks).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core import embed_texts, load_model, trace_text

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA device on this machine: the GPU path runs only where one exists")

TEXT = "The bank of the river flooded after the storm"


@pytest.fixture(scope="module")
def on_gpu():
    return load_model(None, "cuda")


def test_the_model_runs_on_the_gpu(on_gpu):
    assert on_gpu.device.type == "cuda" and on_gpu.info.device == "cuda"


def test_a_gpu_trace_matches_the_cpu_trace(on_gpu, bundled):
    gpu, cpu = trace_text(on_gpu, TEXT), trace_text(bundled, TEXT)
    assert gpu.tokens.tokens == cpu.tokens.tokens and gpu.device_note is None
    np.testing.assert_allclose(gpu.hidden_states, cpu.hidden_states, atol=1e-4)
    np.testing.assert_allclose(gpu.attentions, cpu.attentions, atol=1e-5)
    np.testing.assert_allclose(gpu.native_embedding, cpu.native_embedding, atol=1e-5)


def test_gpu_embeddings_match_sentence_transformers_on_the_gpu(on_gpu):
    from sentence_transformers import SentenceTransformer

    texts = [TEXT, "A cat sat on the mat", "Stock markets fell sharply"]
    reference = SentenceTransformer(on_gpu.source_dir, device="cuda").encode(texts, convert_to_numpy=True)
    np.testing.assert_allclose(embed_texts(on_gpu, texts), reference, atol=1e-5)


def test_the_page_says_it_runs_on_cuda():
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=180)
    app.session_state["device"] = "cuda"
    app.run()
    assert not app.exception
    assert any("device: cuda" in caption.value for caption in app.caption)
