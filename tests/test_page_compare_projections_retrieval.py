""""Compare with…" on the Projections and retrieval pages: what the comparison shows for the second model is
what that model shows alone, and equals an independent computation (SentenceTransformer.encode, scikit-learn's
PCA and brute-force neighbours, scipy's Procrustes, Spearman and Kendall, util.semantic_search)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.stats import kendalltau, spearmanr

from .test_pages_stage4_5 import chart, open_page

PROJECTIONS, RETRIEVAL = "pages/projections.py", "pages/retrieval.py"
PASSAGES = ["The cat sat on the mat and purred.", "Stock markets fell sharply on Tuesday.",
            "A feline rested on the rug near the fire.", "Photosynthesis converts light into chemical energy.",
            "The bank raised its interest rates again.", "A kitten slept in a sunny window.",
            "Bond yields climbed after the report.", "Plants need sunlight and water to grow.",
            "The dog chased a ball across the park.", "Inflation cooled for a third month.",
            "Chlorophyll absorbs red and blue light.", "My neighbour's cat hunts mice at night."]
QUERY = "Where did the kitten lie down?"


@pytest.fixture(scope="module")
def second_folder(tmp_path_factory):
    """A tiny GPT-2-family model with its own prompts: another tokenizer, width, pooling path and prompts."""
    from .st_tiny import build_st_folder

    return str(build_st_folder(tmp_path_factory.mktemp("second"), family="gpt2", pooling="mean",
                               dense=[(16, "tanh", True)], prompts={"query": "query: ", "document": "passage: "}))


def _sentence_transformer(folder: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(folder, device="cpu")


def _tables(app) -> list[pd.DataFrame]:
    return [df.value for df in app.dataframe]


def _metric(app, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


# ---------------------------------------------------------------------------------------------- projections

@pytest.fixture(scope="module")
def projections(second_folder):
    """The topics example under PCA: the bundled model compared with the tiny one, and the tiny one alone."""
    compared = open_page(PROJECTIONS, proj_method="pca", compare_field=second_folder)
    alone = open_page(PROJECTIONS, model_field=second_folder, proj_method="pca")
    return compared, alone


def _drawn_points(figure: dict, axis_of_b: str) -> tuple[np.ndarray, np.ndarray]:
    """(A's points, B's points) of the side-by-side figure, rows in sentence order (from customdata)."""
    sides = {}
    for trace in figure["data"]:
        side = "b" if trace.get("xaxis") == axis_of_b else "a"
        for row, x, y in zip(np.asarray(trace["customdata"]), np.asarray(trace["x"]), np.asarray(trace["y"])):
            sides.setdefault(side, {})[int(row)] = (float(x), float(y))
    return tuple(np.asarray([sides[s][i] for i in range(len(sides[s]))]) for s in ("a", "b"))


def test_aligned_maps_equal_an_independent_pca_and_procrustes(projections, second_folder):
    from sklearn.decomposition import PCA

    from core.models.bundled import bundled_model_dir
    from ui.projection_state import EXAMPLE_SETS

    compared, _ = projections
    texts = pd.read_csv(next(iter(EXAMPLE_SETS.values())), dtype=str, keep_default_na=False)["text"].tolist()
    figure = chart(compared, "proj_plot")
    points_a, points_b = _drawn_points(figure, "x2")
    assert len(points_a) == len(points_b) == len(texts) == 60
    groups = {t["legendgroup"] for t in figure["data"]}
    assert len(groups) == 5 and len(figure["data"]) == 10   # the five topics, each on both maps …
    for group in groups:
        traces = [t for t in figure["data"] if t["legendgroup"] == group]
        assert len({t["marker"]["color"] for t in traces}) == 1   # … in one colour, with the same hover texts
        assert traces[0]["text"] == traces[1]["text"] and traces[1]["name"] == traces[0]["name"] + " (compared)"
    vectors_a = _sentence_transformer(str(bundled_model_dir())).encode(texts, normalize_embeddings=True)
    vectors_b = _sentence_transformer(second_folder).encode(texts, normalize_embeddings=True)
    pca_a, pca_b = (PCA(n_components=2).fit_transform(v.astype(np.float64)) for v in (vectors_a, vectors_b))
    np.testing.assert_allclose(np.abs(points_a), np.abs(pca_a), atol=2e-3)   # PCA's signs are arbitrary
    # B's map rotated and scaled onto A's drawn map (scipy), then shifted to A's centre: what the page draws
    a_c, b_c = points_a - points_a.mean(axis=0), pca_b - pca_b.mean(axis=0)
    rotation, singular_sum = orthogonal_procrustes(b_c, a_c)
    expected_b = singular_sum / (b_c ** 2).sum() * b_c @ rotation + points_a.mean(axis=0)
    np.testing.assert_allclose(points_b, expected_b, atol=2e-3 * np.abs(points_a).max())
    caption = next(c.value for c in compared.caption if "Procrustes" in c.value)
    disparity = ((points_a - expected_b) ** 2).sum() / (a_c ** 2).sum()
    assert f"is {disparity:.3f} of this map's spread" in caption


def test_neighbour_overlap_equals_brute_force_and_sets(projections, second_folder):
    from sklearn.neighbors import NearestNeighbors

    from core.models.bundled import bundled_model_dir
    from ui.projection_state import EXAMPLE_SETS

    compared, _ = projections
    texts = pd.read_csv(next(iter(EXAMPLE_SETS.values())), dtype=str, keep_default_na=False)["text"].tolist()
    sets = []
    for folder in (str(bundled_model_dir()), second_folder):
        vectors = _sentence_transformer(folder).encode(texts, normalize_embeddings=True)
        found = NearestNeighbors(n_neighbors=10, metric="cosine", algorithm="brute").fit(vectors)
        sets.append([set(row.tolist()) for row in found.kneighbors(return_distance=False)])
    jaccard = [len(a & b) / len(a | b) for a, b in zip(*sets)]
    assert _metric(compared, "mean Jaccard of the 10 nearest neighbours") == f"{np.mean(jaccard):.3f}"
    changed = next(t for t in _tables(compared) if "Jaccard" in t.columns)
    lowest = sorted(range(len(texts)), key=lambda i: (jaccard[i], i))[:10]
    assert list(changed["#"]) == [i + 1 for i in lowest]
    np.testing.assert_allclose(changed["Jaccard"], [round(jaccard[i], 3) for i in lowest])
    first = lowest[0]
    only_a = changed["neighbours only under this model"].iloc[0]
    assert {int(part.split(".")[0]) - 1 for part in only_a.split(" · ")} == sets[0][first] - sets[1][first]
    # the neighbour tables of the selected sentence (the first): each model's own ten
    table_a, table_b = (t for t in _tables(compared) if "also under the other" in t.columns)
    assert set(table_a["#"] - 1) == sets[0][0] and set(table_b["#"] - 1) == sets[1][0]


def test_the_second_models_neighbours_are_what_it_shows_alone(projections):
    compared, alone = projections
    _, table_b = (t for t in _tables(compared) if "also under the other" in t.columns)
    own = next(t for t in _tables(alone) if list(t.columns) == ["sentence", "cosine"])
    assert list(table_b["sentence"]) == list(own["sentence"])
    np.testing.assert_allclose(table_b["cosine"], own["cosine"], atol=1.5e-4)  # 4 decimals, float32 vs float64


def test_projection_views_and_no_comparison(projections, second_folder):
    compared, _ = projections
    compared.radio(key="proj_compare_view").set_value("overlaid").run()
    assert not compared.exception
    lines = chart(compared, "proj_plot")["data"][0]
    assert lines["mode"] == "lines" and len(lines["x"]) == 3 * 60
    compared.radio(key="proj_dims").set_value(3).run()
    assert not compared.exception
    assert {t["type"] for t in chart(compared, "proj_plot")["data"]} == {"scatter3d"}
    compared.slider(key="proj_compare_layer").set_value(0).run()   # the compared model's embedding output
    assert not compared.exception and any("layer 0" in str(a) for a in chart(compared, "proj_plot")["layout"]["annotations"])
    compared.session_state["compare_field"] = ""   # back to one model: the page as it always was
    compared.run()
    assert not compared.exception
    assert not any("Jaccard" in t.columns for t in _tables(compared))
    assert [list(t.columns) for t in _tables(compared)][0] == ["sentence", "cosine"]


# ---------------------------------------------------------------------------------------------- retrieval

@pytest.fixture(scope="module")
def retrieval(second_folder):
    inputs = dict(rt_corpus="pasted", rt_pasted="\n".join(PASSAGES), rt_query=QUERY, rt_expected=5)
    compared = open_page(RETRIEVAL, compare_field=second_folder, **inputs)
    alone = open_page(RETRIEVAL, model_field=second_folder, **inputs)
    return compared, alone


def _ranking_tables(app) -> list[pd.DataFrame]:
    return [t for t in _tables(app) if {"rank", "#", "score", "expected"} <= set(t.columns)]


def test_the_second_ranking_is_what_it_shows_alone_and_semantic_search(retrieval, second_folder):
    from sentence_transformers import util

    from core.models.bundled import bundled_model_dir

    compared, alone = retrieval
    first, second = _ranking_tables(compared)
    (own,) = _ranking_tables(alone)
    pd.testing.assert_frame_equal(second.reset_index(drop=True), own.reset_index(drop=True))
    for table, folder in ((first, str(bundled_model_dir())), (second, second_folder)):
        model = _sentence_transformer(folder)   # encode_query / encode_document add the model's own prompts
        hits = util.semantic_search(model.encode_query([QUERY], convert_to_tensor=True),
                                    model.encode_document(PASSAGES, convert_to_tensor=True), top_k=10)[0]
        assert list(table["#"])[:10] == [hit["corpus_id"] + 1 for hit in hits]
        np.testing.assert_allclose(table["score"][:10], [hit["score"] for hit in hits], atol=1e-5)
    shown = [c.value.replace("\\", "") for c in compared.caption]   # Markdown-escaped once
    assert any("query 'query: ', document 'passage: '" in c for c in shown)


def test_disagreement_numbers_equal_scipy_and_sets(retrieval, second_folder):
    compared, _ = retrieval
    compared.slider(key="rt_k").set_value(12).run()   # every passage listed, under both models
    assert not compared.exception
    first, second = _ranking_tables(compared)
    ranks_a = dict(zip(first["#"] - 1, first["rank"]))
    ranks_b = dict(zip(second["#"] - 1, second["rank"]))
    order = sorted(ranks_a)
    a, b = [ranks_a[p] for p in order], [ranks_b[p] for p in order]
    assert _metric(compared, "Spearman of the ranks") == f"{spearmanr(a, b)[0]:.3f}"
    assert _metric(compared, "Kendall τ of the ranks") == f"{kendalltau(a, b)[0]:.3f}"
    top_a = {p for p in order if ranks_a[p] <= 10}
    top_b = {p for p in order if ranks_b[p] <= 10}
    assert _metric(compared, "top 10: passages in both") == f"{len(top_a & top_b)} of 10"
    assert _metric(compared, "passage 6, the one you expected: rank under each") == f"{ranks_a[5]} · {ranks_b[5]}"
    moved = next(t for t in _tables(compared) if "rank, compared" in t.columns and len(t) == 10)
    change = [abs(ranks_a[p - 1] - ranks_b[p - 1]) for p in moved["#"]]
    assert change == sorted((abs(x - y) for x, y in zip(a, b)), reverse=True)[:10]


def test_recall_of_a_bundled_example_under_both_models(second_folder, tmp_path_factory):
    """Two tiny models on the STS-B example (the bundled one would embed its corpus for seconds)."""
    from core.retrieval.search import build_index, encode_queries, recall_at_k
    from ui import retrieval_state as rs

    from .st_tiny import build_st_folder

    first_folder = str(build_st_folder(tmp_path_factory.mktemp("first"), family="bert", seed=3))
    app = open_page(RETRIEVAL, model_field=first_folder, compare_field=second_folder, rt_corpus="stsb")
    example = rs.stsb_example(rs.STSB_DEV)
    for folder, suffix in ((first_folder, ""), (second_folder, ", compared model")):
        model = rs.cached_model(folder, "auto")
        recall = recall_at_k(build_index(model, list(example.passages)), encode_queries(model, list(example.queries)),
                             example.answers, ks=(1, 10))
        label = "recall@1 over the example's queries" if not suffix else "recall@1" + suffix
        assert _metric(app, label) == f"{recall[1]:.2%}"
        assert _metric(app, "recall@10" + suffix) == f"{recall[10]:.2%}"


def test_retrieval_without_a_second_model_is_unchanged(retrieval):
    compared, _ = retrieval
    compared.session_state["compare_field"] = ""
    compared.run()
    assert not compared.exception
    assert len(_ranking_tables(compared)) == 1
    assert not any(s.value == "Where the two models disagree" for s in compared.subheader)
