"""Pooling against sentence-transformers' own Pooling module and encode()."""

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.models import Pooling

from core import embed_texts, pool, trace_text
from core.pipeline.pooling import max_pooling_winners

SENTENCES = [
    "The cat sat on the mat",
    "A feline rested on the rug",
    "Python is a programming language",
    "Short",
    "A considerably longer sentence that needs many more tokens than the others in this batch do.",
]


@pytest.fixture(scope="module")
def sentence_transformer(bundled):
    return SentenceTransformer(bundled.source_dir, device="cpu")


@pytest.mark.parametrize("mode", ["cls", "mean", "max", "weightedmean", "lasttoken"])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pooling_equals_sentence_transformers_on_padded_batches(mode, padding_side):
    generator = torch.Generator().manual_seed(7)
    embeddings = torch.randn(4, 9, 16, generator=generator)
    lengths = [9, 5, 1, 7]
    mask = torch.zeros(4, 9, dtype=torch.long)
    for row, n in enumerate(lengths):
        if padding_side == "right":
            mask[row, :n] = 1
        else:
            mask[row, 9 - n :] = 1
    reference = Pooling(16, pooling_mode=mode)({"token_embeddings": embeddings, "attention_mask": mask})["sentence_embedding"]
    ours = pool(mode, embeddings, mask)
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), atol=1e-5)
    # One sentence alone pools exactly like its row of the padded batch.
    for row in range(4):
        alone = embeddings[row][mask[row] == 1].unsqueeze(0)
        np.testing.assert_allclose(pool(mode, alone, None)[0].numpy(), ours[row].numpy(), atol=1e-5)


def test_weighted_mean_with_uniform_weights_is_mean():
    embeddings = torch.randn(2, 6, 8)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    np.testing.assert_allclose(pool("idf", embeddings, mask, torch.ones(2, 6)).numpy(), pool("mean", embeddings, mask).numpy(), atol=1e-6)


def test_max_pooling_winners_point_at_the_max():
    embeddings = torch.randn(1, 5, 8)
    winners = max_pooling_winners(embeddings)[0]
    np.testing.assert_array_equal(embeddings[0, winners, torch.arange(8)].numpy(), pool("max", embeddings)[0].numpy())


def test_traced_native_embedding_equals_encode(bundled, sentence_transformer):
    expected = sentence_transformer.encode(SENTENCES, normalize_embeddings=True)
    for sentence, vector in zip(SENTENCES, expected):
        trace = trace_text(bundled, sentence)
        np.testing.assert_allclose(trace.native_embedding, vector, atol=1e-5)
        mean = trace.pooled["mean"]
        np.testing.assert_allclose(mean / np.linalg.norm(mean), vector, atol=1e-5)


def test_batched_embedding_equals_encode(bundled, sentence_transformer):
    texts = SENTENCES * 3 + ["word " * 400]  # the last one is cut at max_seq_length by both
    expected = sentence_transformer.encode(texts, normalize_embeddings=True, batch_size=4)
    ours = embed_texts(bundled, texts, batch_size=4)
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    both = embed_texts(bundled, texts[:5], pooling=["mean", "cls"], normalize=False)
    raw = sentence_transformer.encode(texts[:5], normalize_embeddings=False, output_value="token_embeddings")
    np.testing.assert_allclose(both["cls"], np.stack([t[0].numpy() for t in raw]), atol=1e-5)


def test_article_example_similarities(bundled):
    vectors = embed_texts(bundled, ["The cat sat on the mat", "A feline rested on the rug", "Python is a programming language"])
    assert abs(float(vectors[0] @ vectors[1]) - 0.564) < 0.005  # ../shared/NOTES.md, not the article's ~0.81
    assert abs(float(vectors[0] @ vectors[2]) - 0.031) < 0.005
