"""Pages 1–3 (tokenization, embedding lookup, positional encoding): rerun time and payload with a
warm model, plus the one-off costs those pages cache.

    python -m bench.stage1_3 [--repeats 3]

For each page and a new 16-token and a new 256-token text (new = not in the trace cache) it
times the page's rerun under AppTest exactly as bench/page_rerun.py does, with the bare trace of
the same text as the reference measured in the same run. Then it times the work each page keeps
in a cache instead of redoing per rerun: the row norms of the whole embedding table and one
nearest-rows search over it, and one word-order experiment (four forward passes, two of them
with position information removed by hooks).
"""

from __future__ import annotations

import argparse
import time

from bench.page_rerun import ROOT, AppTest, measure
from core import load_model
from core.analysis.positional import word_order_experiment
from core.text.vocabulary import nearest_rows, row_norms

PAGES = ("pages/tokenization.py", "pages/embedding_lookup.py", "pages/positional_encoding.py")


def best(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = load_model()
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    app.run()
    print("| page | text | rerun (best of %d) | bare trace, same run | ratio | payload |" % args.repeats)
    print("| --- | --- | --- | --- | --- | --- |")
    for page in PAGES:
        app.switch_page(page).run()  # warm: page imported, its caches filled for the current model
        for n_tokens in (16, 256):
            page_t, trace_t, size = measure(app, model, n_tokens, args.repeats, salt=7 * PAGES.index(page))
            print(f"| {page} | {n_tokens} tokens | {page_t * 1000:.0f} ms | {trace_t * 1000:.0f} ms | {page_t / trace_t:.1f} "
                  f"| {size / 1e6:.3f} MB |")

    table = model.weights("word_embeddings")
    cat = model.tokenizer.convert_tokens_to_ids("cat")
    norms = row_norms(table)
    print()
    print("| cached work (cold, best of %d) | time |" % args.repeats)
    print("| --- | --- |")
    print(f"| row norms of the {table.shape[0]:,} × {table.shape[1]} table (once per model) | "
          f"{best(lambda: row_norms(table), args.repeats) * 1000:.0f} ms |")
    print(f"| 10 nearest rows of one token, norms cached (once per model and token) | "
          f"{best(lambda: nearest_rows(table, cat, 10, norms=norms), args.repeats) * 1000:.1f} ms |")
    experiment = best(lambda: word_order_experiment(model, "The cat bit the dog", "The dog bit the cat"), args.repeats)
    print(f"| word-order experiment, two 7-token texts (once per model and pair) | {experiment * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
