"""Projections, neighbours, datasets and the embed CLI."""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import embed_texts
from core.text.datasets import DatasetError, pair_vectors_with_texts, read_table, read_vectors, sentence_set
from core.embed.projection import (ProjectionError, ProjectionParams, exact_neighbours, knn_accuracy, nearest_neighbours, pca,
                                   project)

ROOT = Path(__file__).resolve().parent.parent
TOPICS = ROOT / "assets" / "examples" / "topics.csv"


@pytest.fixture(scope="module")
def topic_vectors(bundled):
    frame = pd.read_csv(TOPICS)
    return embed_texts(bundled, list(frame["text"])), frame["label"].to_numpy()


@pytest.mark.parametrize("method", ["umap", "pca", "tsne"])
def test_topics_separate_in_2d(topic_vectors, method):
    vectors, labels = topic_vectors
    points = project(vectors, ProjectionParams(method=method, dims=2, n_neighbors=10, perplexity=10))
    assert points.shape == (60, 2) and np.isfinite(points).all()
    # Five topics, 12 sentences each; chance is 0.2. 5-fold 5-NN accuracy measured 2026-11-26:
    # 0.97 in the full 384-d space; in 2-D UMAP 0.98, t-SNE 0.97, PCA 0.77 (two linear axes of 384).
    # Bounds leave room for seeds and library versions, far above chance.
    assert knn_accuracy(vectors, labels) >= 0.9
    assert knn_accuracy(points, labels) >= (0.65 if method == "pca" else 0.85)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_umap_neighbour_graph_equals_brute_force_search(metric):
    """The graph UMAP is given equals scikit-learn's exact search, across block edges and with a duplicate row."""
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((250, 24)).astype(np.float32)
    vectors[7] = vectors[8]
    indices, distances = exact_neighbours(vectors, 10, metric, block_rows=64)
    expected_distances, expected_indices = NearestNeighbors(n_neighbors=10, metric=metric, algorithm="brute").fit(vectors).kneighbors(vectors)
    assert (indices[:, 0] == np.arange(250)).all()  # itself first, as umap expects, even for the duplicated pair
    np.testing.assert_allclose(distances, expected_distances, atol=1e-5)
    same_sets = [set(ours) == set(theirs) for ours, theirs in zip(indices[:, 1:], expected_indices[:, 1:])]
    assert all(same_sets[i] for i in range(250) if i not in (7, 8))  # 7 and 8 are each other's tie with themselves
    same_order = (indices == expected_indices).all(axis=1)
    assert all(same_order[i] or {7, 8} <= set(indices[i]) for i in range(250))  # only the duplicated pair swaps places


def test_pca_matches_scikit_learn_up_to_sign(topic_vectors):
    from sklearn.decomposition import PCA

    vectors, _ = topic_vectors
    ours = pca(vectors, 3)
    theirs = PCA(n_components=3).fit_transform(vectors)
    for axis in range(3):
        assert min(np.abs(ours[:, axis] - theirs[:, axis]).max(), np.abs(ours[:, axis] + theirs[:, axis]).max()) < 1e-4


def test_3d_and_errors(topic_vectors):
    vectors, _ = topic_vectors
    assert project(vectors, ProjectionParams(method="pca", dims=3)).shape == (60, 3)
    with pytest.raises(ProjectionError, match="at least 3"):
        project(vectors[:2])
    with pytest.raises(ProjectionError, match="capped"):
        project(np.random.rand(5_001, 4).astype(np.float32), ProjectionParams(method="tsne"))


def test_nearest_neighbours_are_by_cosine(topic_vectors):
    vectors, labels = topic_vectors
    found = nearest_neighbours(vectors, 0, 5)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = np.argsort(-(unit @ unit[0]))[1:6]
    assert [i for i, _ in found] == expected.tolist()
    assert all(labels[i] == "cooking" for i, _ in found[:3])
    assert [i for i, _ in nearest_neighbours(vectors[:4], 1, 10)] != [] and len(nearest_neighbours(vectors[:4], 1, 10)) == 3


@pytest.mark.parametrize(
    "content, name, message",
    [
        (b"text,label\n\xff\xfeoops,a\n", "a.csv", "line 2: not valid UTF-8"),
        (b"\x00\x01PK\x03\x04binary", "a.csv", "binary"),
        (b"", "a.csv", "empty"),
        (b"not parquet at all", "a.parquet", "not a readable Parquet"),
        (b"x", "a.xlsx", "not a CSV"),
    ],
)
def test_bad_tables(content, name, message):
    with pytest.raises(DatasetError, match=message):
        read_table(content, name)


def test_columns_and_rows():
    frame = read_table(b"sentence,topic\nHello,a\n,b\n  ,c\nWorld,d\n", "s.csv")
    with pytest.raises(DatasetError, match="no column 'text'"):
        sentence_set(frame, "text")
    chosen = sentence_set(frame, "sentence", "topic")
    assert chosen.texts == ("Hello", "World") and chosen.labels == ("a", "d") and chosen.dropped_empty == 2
    with pytest.raises(DatasetError, match="has no rows"):
        read_table(b"text\n \n\n", "e.csv")
    with pytest.raises(DatasetError, match="column 'text' is empty"):
        sentence_set(read_table(b'text,n\n" ",1\n"",2\n', "e.csv"), "text")


def test_a_million_rows_is_refused_with_the_cap():
    content = b"text\n" + b"row\n" * 1_000_000
    with pytest.raises(DatasetError, match="more than 200,000 rows"):
        read_table(content, "big.csv")


def test_vectors():
    buffer = io.BytesIO()
    np.save(buffer, np.ones((3, 8), dtype=np.float32))
    vectors = read_vectors(buffer.getvalue(), "v.npy")
    texts = sentence_set(read_table(b"text\na\nb\n", "t.csv"), "text")
    with pytest.raises(DatasetError, match="3 vectors but 2 texts"):
        pair_vectors_with_texts(vectors, texts)
    with pytest.raises(DatasetError, match="not a readable .npy"):
        read_vectors(b"garbage", "v.npy")
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError):
        read_vectors(pickled.getvalue(), "evil.npy")  # object arrays would need unpickling: refused


def test_embed_cli_round_trip(tmp_path, bundled):
    source = tmp_path / "in.csv"
    source.write_text("text,label\nThe cat sat,a\nStocks fell,b\n,c\nRain again,a\n", encoding="utf-8")
    out = tmp_path / "vectors.parquet"
    result = subprocess.run(
        [sys.executable, "-m", "core", "embed", "--input", str(source), "--text-column", "text", "--label-column", "label",
         "--out", str(out), "--device", "cpu"],
        cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "1 empty rows skipped" in result.stdout
    loaded = sentence_set(read_table(out.read_bytes(), "vectors.parquet"), "text", "label")
    assert loaded.texts == ("The cat sat", "Stocks fell", "Rain again") and loaded.labels == ("a", "b", "a")
    np.testing.assert_allclose(loaded.vectors, embed_texts(bundled, list(loaded.texts)), atol=1e-6)
