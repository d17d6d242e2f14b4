"""Projection time by method and size, and 10,000 sentences end to end.

    python -m bench.projection_scale [--skip-end-to-end]

Sizes 1k, 10k and 100k random 384-d vectors (what the model outputs, normalised). UMAP is
capped at 20k points on the page and t-SNE at 5k, so those cells are measured only where
the page allows them. The reference for each row is PCA of the same vectors in the same run.
End to end: embed 10,000 STS-B-like sentences (the STS-B dev+test sentences, repeated with a
suffix) with core.embed_texts, then UMAP 2-D, against SentenceTransformer.encode of the same
sentences (throughput ratio; goal ≥ 0.95) — the first-UMAP numba compilation is included
when the numba cache is cold.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from core.embed.projection import POINT_CAPS, ProjectionParams, project  # noqa: E402


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-end-to-end", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("warming UMAP (numba)…", f"{timed(lambda: project(rng.normal(size=(200, 16)).astype(np.float32))):.1f} s")
    print(f"{'points':>8} {'PCA':>8} {'UMAP':>9} {'t-SNE':>9}")
    for n in (1_000, 10_000, 100_000):
        vectors = rng.normal(size=(n, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        row = [timed(lambda: project(vectors, ProjectionParams(method="pca")))]
        for method in ("umap", "tsne"):
            row.append(timed(lambda: project(vectors, ProjectionParams(method=method))) if n <= POINT_CAPS[method] else None)
        cells = [f"{v:7.1f}s" if v is not None else "  capped" for v in row]
        print(f"{n:>8,} {cells[0]:>8} {cells[1]:>9} {cells[2]:>9}")
    if args.skip_end_to_end:
        return
    from sentence_transformers import SentenceTransformer

    from bench.embed_throughput import sentences
    from core import embed_texts, load_model

    texts = sentences(10_000)
    model = load_model(None, "cpu")
    reference = SentenceTransformer(model.source_dir, device="cpu")
    t_embed = timed(lambda: globals().__setitem__("_v", embed_texts(model, texts, batch_size=64)))
    t_umap = timed(lambda: project(globals()["_v"], ProjectionParams(method="umap")))
    t_st = timed(lambda: reference.encode(texts, batch_size=64))
    print(f"10,000 sentences end to end: embed {t_embed:.1f} s + UMAP {t_umap:.1f} s = {t_embed + t_umap:.1f} s (goal ≤ 60 s)")
    print(f"embedding throughput vs SentenceTransformer.encode ({t_st:.1f} s): ratio {t_st / t_embed:.2f} (goal ≥ 0.95)")


if __name__ == "__main__":
    main()
