"""Many sessions share one model: concurrent traces never see each other's activations."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from core import count_registered_hooks, embed_texts, trace_text
from core.models.hooks import live_hooks

SENTENCES = [
    "The cat sat on the mat.",
    "Stock markets fell sharply on Tuesday after the announcement.",
    "Photosynthesis converts light into chemical energy.",
    "Ich bin ein Berliner.",
    "A very, very, very long sentence with lots of repeated words words words words words.",
    "Quantum entanglement puzzles physicists.",
    "短い日本語の文",
    "Why?",
]


def _fingerprint(trace):
    return (trace.tokens.input_ids, trace.hidden_states, trace.attentions, trace.native_embedding,
            np.stack([layer.ffn_activations.sum(-1) for layer in trace.layers]))


def test_eight_threads_get_the_sequential_results(bundled):
    sequential = [_fingerprint(trace_text(bundled, s)) for s in SENTENCES]
    barrier = threading.Barrier(len(SENTENCES))

    def run(index):
        barrier.wait()  # start together so the forward passes really contend
        results = []
        for _ in range(3):
            results.append(_fingerprint(trace_text(bundled, SENTENCES[index])))
        return results

    with ThreadPoolExecutor(max_workers=len(SENTENCES)) as pool:
        concurrent = list(pool.map(run, range(len(SENTENCES))))
    for index, runs in enumerate(concurrent):
        for result in runs:
            for got, expected in zip(result, sequential[index]):
                np.testing.assert_array_equal(got, expected)
    assert count_registered_hooks(bundled.torch_module) == 0


def test_embedding_alongside_traces_is_unaffected(bundled):
    expected = embed_texts(bundled, SENTENCES)
    with ThreadPoolExecutor(max_workers=4) as pool:
        traces = [pool.submit(trace_text, bundled, s) for s in SENTENCES]
        embeddings = [pool.submit(embed_texts, bundled, SENTENCES) for _ in range(3)]
        for future in embeddings:
            np.testing.assert_allclose(future.result(), expected, atol=1e-6)
        for future, sentence in zip(traces, SENTENCES):
            assert future.result().text == sentence
    assert count_registered_hooks(bundled.torch_module) == 0


def test_hooks_come_off_when_the_forward_pass_raises(bundled):
    record = ["encoder.layer.0.hook_out", "encoder.layer.1.output.dense.hook_in"]
    with pytest.raises(IndexError):
        with bundled.hooks(record=record, patches={"embeddings.position_embeddings.hook_out": lambda x: x}):
            assert count_registered_hooks(bundled.torch_module) == 3  # two recording hooks and one patching hook
            assert live_hooks() == 3
            bundled.torch_module(input_ids=torch.tensor([[101, 999999, 102]]))  # id out of range: the model raises
    assert count_registered_hooks(bundled.torch_module) == 0
    assert live_hooks() == 0
    # And the model still serves.
    assert trace_text(bundled, "still working").tokens.tokens[1:3] == ("still", "working")


def test_a_hook_ignores_forward_passes_of_other_recorders(bundled):
    inner_results = {}
    with bundled.hooks(record=["encoder.layer.0.hook_out"]) as outer:
        # Another thread runs its own forward pass while this recorder's hooks are registered
        # (as if the lock were bypassed): this recorder must not capture it.
        def other():
            with torch.inference_mode():
                bundled.torch_module(input_ids=torch.tensor([[101, 2023, 102]]))
            inner_results["done"] = True

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert inner_results["done"] and outer.records == {}
