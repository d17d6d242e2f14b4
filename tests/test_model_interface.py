"""The one model interface and its hook system: every model runs through ExplorerModel, hook points
are declared once, recording and patching come off together, and nothing disturbs a shared process."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from core import count_registered_hooks, embed_texts, trace_text
from core.analysis.contrastive import fine_tune, untrained_twin
from core.models.hooks import live_hooks, zero_output

from .tiny_models import build_tiny, tiny_configs

ROOT = Path(__file__).resolve().parent.parent
# What only core/models may touch: the raw torch module, its lock, its module map, torch's hooks.
_PRIVATE = re.compile(r"\.torch_module\b|(?<!self)\._lock\b|(?<!self)\._modules\b|modules_by_path|get_submodule|register_forward_(pre_)?hook"
                      r"|\.named_modules\(|manual_seed\(|\.setLevel\(")


def _offending_lines(source: str) -> list[str]:
    return [line.strip() for line in source.splitlines() if _PRIVATE.search(line.split("#")[0])]


def test_only_the_models_package_touches_the_torch_module():
    files = [*ROOT.glob("core/**/*.py"), *ROOT.glob("ui/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"]
    offenders = {}
    for path in files:
        if path.is_relative_to(ROOT / "core" / "models"):
            continue
        lines = _offending_lines(path.read_text(encoding="utf-8"))
        if lines:
            offenders[str(path.relative_to(ROOT))] = lines
    assert offenders == {}


def test_the_check_catches_what_it_forbids():
    assert _offending_lines("x = explorer.torch_module(**inputs)\nwith explorer._lock:\n    torch.manual_seed(0)")
    assert not _offending_lines("trace = trace_text(model, text)  # .torch_module stays private\n")


@pytest.mark.parametrize("family", sorted(tiny_configs()))
def test_every_declared_hook_point_sits_on_a_real_module(family):
    explorer, _ = build_tiny(family)
    modules = dict(explorer.torch_module.named_modules())
    points = explorer.hook_dict
    assert len(points) == len(set(points)) and len(points) > 10 * explorer.info.n_layers // 2
    for name, point in points.items():
        assert point.module in modules, name
        assert name.startswith(point.module)
    # every layer has the stages the trace needs, the same for each layer
    for index in range(explorer.info.n_layers):
        for stage in ("block.input", "block.output", "attn.context", "attn.output", "ffn.activations", "ffn.output"):
            assert explorer.hook_points.has(stage, index), (stage, index)


def test_a_trace_records_exactly_the_declared_names(bundled):
    trace = trace_text(bundled, "Hook names are declared once")
    assert set(trace.activations) <= set(bundled.hook_dict)
    assert "encoder.layer.3.attention.self.hook_pattern" in trace.activations
    np.testing.assert_array_equal(trace.activations["encoder.layer.3.attention.self.hook_pattern"], trace.attentions[3])


def test_recording_and_patching_in_one_session(bundled):
    """Zeroing the position rows while recording what enters layer 1: the record equals the model's own
    LayerNorm of (token row + segment row), computed here from the weights."""
    tokens = bundled.tokenize("Patch and record together")
    names = bundled.hook_points
    record = [names.name("embed.output")]
    patch = {names.name("embed.positions"): zero_output}
    result = bundled.forward(tokens, record=record, patches=patch)
    module = bundled.torch_module.embeddings
    ids = torch.as_tensor(tokens.input_ids)
    with torch.no_grad():
        expected = module.LayerNorm(module.word_embeddings(ids) + module.token_type_embeddings(torch.zeros_like(ids)))
    torch.testing.assert_close(result.records[record[0]][0], expected, atol=1e-5, rtol=0)
    normal = bundled.forward(tokens, record=record).records[record[0]][0]
    assert (normal - expected).abs().max() > 1e-2  # without the patch the positions are in
    assert count_registered_hooks(bundled) == 0 and live_hooks() == 0


def test_only_outputs_can_be_patched_and_names_are_checked(bundled):
    with pytest.raises(KeyError):
        bundled.forward(bundled.tokenize("x"), record=["encoder.layer.99.hook_out"])
    with pytest.raises(ValueError):
        bundled.forward(bundled.tokenize("x"), patches={"encoder.layer.0.hook_in": zero_output})
    assert live_hooks() == 0


def test_apply_module_runs_one_piece_of_the_model(bundled):
    values = np.random.default_rng(0).standard_normal((5, 384)).astype(np.float32)
    with torch.no_grad():
        expected = bundled.torch_module.embeddings.LayerNorm(torch.tensor(values)).numpy()
    np.testing.assert_allclose(bundled.apply_module("embeddings.LayerNorm", values), expected, atol=1e-6)


def test_nothing_touches_torchs_shared_random_generator(bundled):
    """A shared server's sessions all draw from torch's one global generator: tracing, embedding, the
    untrained twin and fine-tuning must neither reseed nor consume it."""
    state = torch.get_rng_state()
    trace_text(bundled, "random numbers stay put")
    embed_texts(bundled, ["one", "two"])
    twin = untrained_twin(bundled, seed=1)
    again = untrained_twin(bundled, seed=1)
    for (name, a), (_, b) in zip(twin.torch_module.state_dict().items(), again.torch_module.state_dict().items()):
        assert torch.equal(a, b), name  # the same seed gives the same twin
    fine_tune(bundled, ["a cat", "a dog"], ["a kitten", "a puppy"], steps=1)
    assert torch.equal(state, torch.get_rng_state())


def test_loading_leaves_logger_levels_alone():
    import logging

    from core import load_model

    logger = logging.getLogger("transformers")
    before = logger.level
    logger.setLevel(logging.INFO)
    try:
        load_model()
        assert logger.level == logging.INFO
    finally:
        logger.setLevel(before)


def test_the_probe_is_installed_explicitly():
    import subprocess
    import sys

    code = ("import core.models.attention_probe as probe\n"
            "from transformers import AttentionInterface\n"
            "assert probe.EXPLORER_ATTENTION not in AttentionInterface._global_mapping\n"
            "probe.install()\n"
            "assert probe.EXPLORER_ATTENTION in AttentionInterface._global_mapping\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
