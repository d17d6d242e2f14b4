"""The retrieval debugger's two costs, on 1,000 STS-B sentences as the corpus.

    python -m bench.retrieval [--passages 1000] [--rounds 3]

1. From nothing to a ranked list: ``core.retrieval`` (token budget, every pooling from one forward
   pass per batch, ranking) against ``SentenceTransformer.encode`` + ``util.semantic_search`` of
   the same texts, interleaved, best of the rounds. Goal: at most 1.1 times.
2. Every query-side what-if for a 20-token query against the corpus already embedded (each query
   token removed, the prompt on/off, every pooling, each dimension cut, int8 and binary), with the
   passages' vectors computed once and reused. Goal: under 3 s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from core import load_model  # noqa: E402
from core.embed.sts import read_sts  # noqa: E402
from core.retrieval.search import build_index, encode_query, rank  # noqa: E402
from core.retrieval.whatif import query_what_ifs  # noqa: E402

QUERY = "A man is playing a guitar on a stage while a small crowd of people watches him closely"  # 20 tokens


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer, util

    passages = read_sts(ROOT / "assets" / "stsb" / "stsb-en-test.csv").unique_sentences()[: args.passages]
    model = load_model(None, "cpu")
    reference = SentenceTransformer(model.source_dir, device="cpu")
    n_tokens = len(model.tokenizer(QUERY)["input_ids"])
    ours, theirs = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        index = build_index(model, passages)
        ranking = rank(index, encode_query(model, QUERY))
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        hits = util.semantic_search(reference.encode([QUERY], convert_to_tensor=True),
                                    reference.encode(passages, convert_to_tensor=True), top_k=len(passages))
        theirs.append(time.perf_counter() - start)
    same = [h["corpus_id"] for h in hits[0][:10]] == [p for p, _ in ranking.top(10)]
    print(f"{len(passages):,} passages, torch threads={torch.get_num_threads()}, best of {args.rounds}")
    print(f"  core.retrieval, nothing → ranked list (6 poolings):  {min(ours):6.2f} s")
    print(f"  encode + util.semantic_search:                      {min(theirs):6.2f} s")
    print(f"  ratio:                                              {min(ours) / min(theirs):6.2f}  (goal ≤ 1.1; same top 10: {same})")
    query = encode_query(model, QUERY)
    expected = int(ranking.order[5])
    times = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        report = query_what_ifs(model, index, query, expected)
        times.append(time.perf_counter() - start)
    print(f"  every query-side what-if ({len(report.items)} re-rankings, a {n_tokens}-token query): "
          f"{min(times):6.2f} s  (goal < 3 s)")


if __name__ == "__main__":
    main()
