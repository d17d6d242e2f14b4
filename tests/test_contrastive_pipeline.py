"""InfoNCE against sentence-transformers' MultipleNegativesRankingLoss, private fine-tuning,
and the hand-built pipeline against SentenceTransformer.encode."""

import threading

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.losses import MultipleNegativesRankingLoss

from core import InputTextError, trace_text
from core.analysis.contrastive import MAX_STEPS, fine_tune, info_nce, score_pairs, untrained_twin
from core.analysis.reconstruction import reconstruct

ANCHORS = ["The cat sat on the mat", "How do I reset my password?", "Stocks fell sharply", "He cooked pasta"]
POSITIVES = ["A feline rested on the rug", "I forgot my password", "Share prices dropped", "He made spaghetti"]


@pytest.fixture(scope="module")
def sentence_transformer(bundled):
    return SentenceTransformer(bundled.source_dir, device="cpu")


@pytest.mark.parametrize("temperature", [0.05, 0.1, 1.0])
def test_info_nce_equals_multiple_negatives_ranking_loss(sentence_transformer, temperature):
    a = sentence_transformer.encode(ANCHORS, convert_to_tensor=True)
    b = sentence_transformer.encode(POSITIVES, convert_to_tensor=True)
    reference = MultipleNegativesRankingLoss(sentence_transformer, scale=1.0 / temperature)
    expected = float(reference.compute_loss_from_embeddings([a, b], labels=None))
    ours = info_nce(a.numpy(), b.numpy(), temperature)
    assert abs(ours.loss - expected) < 1e-5
    np.testing.assert_allclose(ours.probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert ours.accuracy == 1.0


def test_untrained_model_scores_pairs_worse(bundled):
    trained = score_pairs(bundled, ANCHORS, POSITIVES)
    random = score_pairs(untrained_twin(bundled), ANCHORS, POSITIVES)
    assert trained.loss < random.loss
    assert np.diag(trained.similarity).mean() - trained.similarity.mean() > np.diag(random.similarity).mean() - random.similarity.mean()


def test_fine_tuning_lowers_the_loss_on_a_private_copy(bundled):
    twin = untrained_twin(bundled, seed=1)
    result = fine_tune(twin, ANCHORS, POSITIVES, steps=8, learning_rate=1e-3, temperature=0.1)
    assert len(result.losses) == 8
    assert result.after.loss < result.before.loss
    with pytest.raises(InputTextError):
        fine_tune(bundled, ["only one"], ["pair"])
    assert fine_tune(bundled, ANCHORS[:2], POSITIVES[:2], steps=MAX_STEPS + 100).losses.__len__() == MAX_STEPS


def test_fine_tuning_scores_held_out_pairs_it_never_trains_on(bundled):
    held = (["The museum opens at nine", "A strong earthquake shook the city"],
            ["Doors of the gallery open at 9 am", "The town was hit by a powerful tremor"])
    result = fine_tune(bundled, ANCHORS, POSITIVES, steps=1, learning_rate=1e-5, held_out=held)
    assert abs(result.held_out_before.loss - score_pairs(bundled, *held).loss) < 1e-4  # the untouched model's score
    assert result.held_out_after.similarity.shape == (2, 2)
    assert fine_tune(bundled, ANCHORS[:2], POSITIVES[:2], steps=1).held_out_before is None


def test_training_never_changes_the_shared_model(bundled):
    before = {name: p.detach().clone() for name, p in bundled.torch_module.named_parameters()}
    reference = trace_text(bundled, "Sessions must not leak into each other.")
    results, errors = [], []

    def tracer():
        try:
            for _ in range(6):
                results.append(trace_text(bundled, "Sessions must not leak into each other."))
        except Exception as error:  # noqa: BLE001 - surfaced below
            errors.append(error)

    thread = threading.Thread(target=tracer)
    thread.start()
    fine_tune(bundled, ANCHORS, POSITIVES, steps=4, learning_rate=1e-3)
    thread.join()
    assert not errors
    for trace in results:
        np.testing.assert_array_equal(trace.hidden_states, reference.hidden_states)
    for name, parameter in bundled.torch_module.named_parameters():
        assert torch.equal(parameter, before[name]), name
    assert not any(p.requires_grad for p in bundled.torch_module.parameters())


def test_hand_built_pipeline_equals_encode(bundled, sentence_transformer):
    for text in ["The cat sat on the mat", "Tokenizers split unhappily — naïve café!"]:
        rebuilt = reconstruct(bundled, text)
        expected = sentence_transformer.encode(text, normalize_embeddings=True)
        assert np.abs(rebuilt.embedding - expected).max() < 1e-5
        assert [s.name for s in rebuilt.steps][:4] == ["tokenize", "look up rows", "add positions", "LayerNorm"]
