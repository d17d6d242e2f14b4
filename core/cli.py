"""Command line: ``python -m core trace|tokenize …``.

    python -m core trace --text "The cat sat" --out trace.npz [--model ID_OR_PATH] [--device cpu]
    python -m core tokenize --tokenizer model|gpt2 --text "The cat sat" [--model ID_OR_PATH]
    python -m core sts-eval assets/stsb/stsb-en-test.csv [--model ID_OR_PATH]
    python -m core embed --input sentences.csv --text-column text --out vectors.parquet [--batch-size 64]
    python -m core embed --input sentences.csv --out vectors/ --engine ray [--address auto] [--num-gpus 1] [--num-workers N]
    python -m core search --query "…" --corpus passages.csv [--text-column text] [--top-k 10] [--expected N]
    python -m core search --example stsb-dev --evaluate      # recall@1 / recall@10 over the example's queries
    python -m core warm [--model ID_OR_PATH] [--no-projections]  # before class: load, trace, compile UMAP
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from .errors import ExplorerError


def _read_text(args) -> str:
    if args.text is not None:
        return args.text
    if args.text_file:
        with open(args.text_file, encoding="utf-8") as handle:
            return handle.read()
    return sys.stdin.read()


def _cmd_trace(args) -> int:
    from .trace.export import trace_arrays
    from .models.loading import load_model
    from .trace.tracer import trace_text

    model = load_model(args.model, args.device)
    trace = trace_text(model, _read_text(args))
    arrays = trace_arrays(trace)
    np.savez_compressed(args.out, **arrays)
    cut = trace.tokens.truncation
    print(f"{trace.model.model_id}: {len(trace.tokens)} tokens, {trace.model.n_layers} layers, d={trace.model.d_model} → {args.out}")
    if cut.truncated:
        print(f"warning: truncated at {cut.max_length} tokens; {cut.dropped_count} tokens dropped", file=sys.stderr)
    return 0


def _cmd_tokenize(args) -> int:
    from .text.tokenization import gpt2_tokenizer, tokenize

    if args.tokenizer == "gpt2":
        tokenizer, max_length = gpt2_tokenizer(), 1024
    else:
        from .models.loading import load_model

        model = load_model(args.model, "cpu")
        tokenizer, max_length = model.tokenizer, model.info.max_seq_length
    tokens = tokenize(tokenizer, _read_text(args), max_length)
    for token, ident in zip(tokens.tokens, tokens.input_ids):
        print(f"{int(ident)}\t{token}")
    cut = tokens.truncation
    print(f"# {len(tokens)} tokens" + (f"; {cut.dropped_count} dropped past {cut.max_length}" if cut.truncated else ""))
    return 0


def _cmd_sts_eval(args) -> int:
    from .models.loading import load_model
    from .pipeline.pooling import POOLING_LABELS
    from .embed.sts import evaluate_sts, read_sts

    pairs = read_sts(args.file)
    model = load_model(args.model, args.device)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\rembedding {done}/{total} unique sentences", end="", file=sys.stderr)

    result = evaluate_sts(model, pairs, args.pooling or None, progress=progress, batch_size=args.batch_size)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    native = model.info.native_pooling
    for name, value in result.spearman.items():
        note = "  (native)" if name == native else ""
        print(f"{name}\t{value:.2f}{note}")
    print(f"# {result.n_pairs} pairs, {result.n_unique_sentences} unique sentences, Spearman x100 of cosine vs gold; "
          f"poolings: {', '.join(POOLING_LABELS.get(n, n) for n in result.spearman)}", file=sys.stderr)
    return 0


def _model_facts(model) -> dict:
    """What an output directory's manifest says about the model that made its vectors."""
    info = model.info
    return {"model_id": info.model_id, "pooling": info.default_pooling, "normalized": info.normalizes,
            "prompt_name": info.default_prompt_name, "max_seq_length": info.max_seq_length}


def _cmd_embed(args) -> int:
    from pathlib import Path

    from .embed.embed_output import EmbedOutputError, check_output_directory, is_directory_output, write_embedding_output
    from .text.datasets import read_table, sentence_set, write_vectors_parquet
    from .models.loading import load_model

    ray_only = [flag for flag, value in (("--address", args.address), ("--num-workers", args.num_workers),
                                         ("--num-gpus", args.num_gpus), ("--num-cpus", args.num_cpus),
                                         ("--rows-per-task", args.rows_per_task)) if value is not None]
    if args.engine == "local" and ray_only:
        raise EmbedOutputError(f"{', '.join(ray_only)} only apply to --engine ray.")
    to_directory = is_directory_output(args.out)
    if args.engine == "ray" and not to_directory:
        raise EmbedOutputError("--engine ray writes a directory (Parquet shards and manifest.json): give --out a "
                               "directory name, not a .parquet file.")
    if to_directory:
        check_output_directory(args.out)
    path = Path(args.input)
    frame = read_table(path.read_bytes(), path.name, max_rows=10_000_000)
    sentences = sentence_set(frame, args.text_column, args.label_column)
    total = len(sentences.texts)
    options = {name: value for name, value in sorted(vars(args).items()) if name not in ("run", "command")}

    def progress(done: int, all_: int) -> None:
        width = 30
        filled = int(width * done / all_)
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{all_:,}", end="", file=sys.stderr, flush=True)

    if args.engine == "ray":
        from .embed.ray_engine import RayOptions, check_address, embed_to_directory, import_ray

        os.environ.setdefault("RAY_DATA_LOG_LEVEL", "WARNING")  # Ray Data's own switch, read when it is imported
        import_ray()  # a clear error before the model loads, if Ray is missing
        check_address(args.address)
        model = load_model(args.model, "cpu")  # checks the model here, and describes it for the manifest
        ray_options = RayOptions(address=args.address, num_workers=args.num_workers, num_gpus=args.num_gpus or 0.0,
                                 num_cpus=args.num_cpus or 1.0, rows_per_task=args.rows_per_task)
        manifest = embed_to_directory(
            sentences.texts, sentences.labels, args.out, model_facts=_model_facts(model), model_id=args.model,
            device=args.device, batch_size=args.batch_size, options=ray_options, shard_rows=args.shard_rows,
            command_options=options, progress=progress, notify=lambda message: print(f"note: {message}", file=sys.stderr))
        print(file=sys.stderr)
        dimension, where = manifest["dimension"], f"{len(manifest['shards'])} shards, {manifest['ray']['workers']} Ray workers"
    else:
        from .embed.embedding import embed_texts

        model = load_model(args.model, args.device)
        vectors = embed_texts(model, list(sentences.texts), batch_size=args.batch_size, progress=progress)
        print(file=sys.stderr)
        dimension = vectors.shape[1]
        if to_directory:
            manifest = write_embedding_output(args.out, sentences.texts, vectors, sentences.labels,
                                              model=_model_facts(model), engine="local", options=options,
                                              shard_rows=args.shard_rows)
            where = f"{len(manifest['shards'])} shards"
        else:
            write_vectors_parquet(args.out, sentences.texts, vectors, sentences.labels)
            where = "one file"
    skipped = f"; {sentences.dropped_empty} empty rows skipped" if sentences.dropped_empty else ""
    print(f"{total:,} texts → {dimension}-d vectors ({model.info.model_id}, {model.info.default_pooling}) → "
          f"{args.out} ({where}){skipped}")
    return 0


def _cmd_search(args) -> int:
    from pathlib import Path

    from .models.loading import load_model
    from .retrieval.corpus import Chunking, docstring_example, stsb_example
    from .retrieval.search import build_index, encode_queries, encode_query, rank, recall_at_k

    example = None
    if args.example == "stsb-dev":
        example = stsb_example(Path(__file__).resolve().parent.parent / "assets" / "stsb" / "stsb-en-dev.csv")
    elif args.example == "python-docstrings":
        example = docstring_example()
    if example is not None:
        passages = list(example.passages)
    elif args.corpus:
        from .text.datasets import read_table, sentence_set

        path = Path(args.corpus)
        frame = read_table(path.read_bytes(), path.name, max_rows=10_000_000)
        passages = list(sentence_set(frame, args.text_column).texts)
    else:
        print("error: give --corpus FILE or --example stsb-dev|python-docstrings", file=sys.stderr)
        return 2
    model = load_model(args.model, args.device)
    chunking = Chunking("chunks", args.chunk_tokens, args.overlap) if args.chunk_tokens else Chunking()
    index = build_index(model, passages, chunking=chunking, document_prompt=args.document_prompt)
    if args.evaluate:
        if example is None:
            print("error: --evaluate needs --example (queries with known answers)", file=sys.stderr)
            return 2
        queries = encode_queries(model, list(example.queries), prompt=args.query_prompt)
        recall = recall_at_k(index, queries, example.answers, ks=(1, 10))
        print(f"{example.name}: {len(example.queries):,} queries, {len(passages):,} passages, {model.info.model_id}")
        for k, value in recall.items():
            print(f"recall@{k}\t{value * 100:.2f}")
        return 0
    if not args.query:
        print("error: give --query TEXT (or --evaluate with an --example)", file=sys.stderr)
        return 2
    query = encode_query(model, args.query, prompt=args.query_prompt)
    ranking = rank(index, query)
    print(f"# {len(passages):,} passages, {model.info.model_id}, similarity {ranking.similarity}"
          + (f", {index.budget.share_truncated:.0%} of the passages longer than the {model.info.max_seq_length}-token window"
             if index.budget.share_truncated else ""))
    for position, (passage, score) in enumerate(ranking.top(args.top_k), start=1):
        cut = "  (cut at the window)" if index.budget.texts[passage].truncated and chunking.mode == "truncate" else ""
        print(f"{position}\t{score:.5f}\t{passage}\t{' '.join(passages[passage].split())[:100]}{cut}")
    if args.expected is not None:
        if not 0 <= args.expected < len(passages):
            print(f"error: --expected must be a passage number from 0 to {len(passages) - 1}", file=sys.stderr)
            return 2
        print(f"# expected passage {args.expected}: rank {ranking.rank_of(args.expected)}, "
              f"score {float(ranking.scores[args.expected]):.5f}")
    return 0


def _cmd_settings(args) -> int:
    """The host's settings as the app will apply them, or what is wrong with them (exit 2)."""
    from dataclasses import asdict

    from .hosting.settings import current_settings

    settings = current_settings()  # raises SettingsError, printed by main()
    for name, value in asdict(settings).items():
        print(f"{name:<20} {value}")
    print(f"{'visitors are':<20} {'everyone (hosted)' if settings.is_hosted() else 'connections from other machines'}")
    return 0


def _cmd_warm(args) -> int:
    """Before class: load the model, trace a text, and compile umap-learn's numba code into
    NUMBA_CACHE_DIR, so that a server started afterwards does not compile on its first Projections visit."""
    import time

    from .embed.projection import warm_up
    from .models.loading import load_model
    from .trace.tracer import trace_text

    started = time.perf_counter()
    model = load_model(args.model, args.device)
    trace_text(model, "The cat sat unhappily")
    print(f"model {model.info.model_id} loaded and traced in {time.perf_counter() - started:.1f} s")
    if not args.no_projections:
        seconds = warm_up()
        print(f"UMAP compiled and fitted in {seconds:.1f} s; numba's cache: {os.environ.get('NUMBA_CACHE_DIR')}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Embedding Explorer's engine, from the shell.")
    commands = parser.add_subparsers(dest="command", required=True)

    def add_text(sub):
        group = sub.add_mutually_exclusive_group()
        group.add_argument("--text", help="the text (default: read standard input)")
        group.add_argument("--text-file", help="read the text from this UTF-8 file")

    trace = commands.add_parser("trace", help="trace a text and save every stage as .npz")
    add_text(trace)
    trace.add_argument("--model", default=None, help="Hugging Face id or local folder (default: the bundled all-MiniLM-L6-v2)")
    trace.add_argument("--device", default="auto", help="auto, cuda, mps or cpu")
    trace.add_argument("--out", required=True, help="output .npz file")
    trace.set_defaults(run=_cmd_trace)

    tok = commands.add_parser("tokenize", help="print tokens and ids")
    add_text(tok)
    tok.add_argument("--tokenizer", choices=("model", "gpt2"), default="model")
    tok.add_argument("--model", default=None)
    tok.set_defaults(run=_cmd_tokenize)
    embed = commands.add_parser("embed", help="embed a CSV/TSV/Parquet/TXT column into Parquet vectors (here or on Ray)")
    embed.add_argument("--input", required=True)
    embed.add_argument("--text-column", default="text")
    embed.add_argument("--label-column", default=None)
    embed.add_argument("--out", required=True, help="a .parquet file (columns text, [label], vector), or a directory: "
                       "Parquet shards (row, text, [label], vector) and manifest.json; --engine ray needs a directory")
    embed.add_argument("--model", default=None)
    embed.add_argument("--device", default="auto", help="auto, cuda, mps or cpu (with --engine ray: on each worker)")
    embed.add_argument("--batch-size", type=int, default=32)
    embed.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: this process (default, no Ray needed); ray: Ray Data actors, one model each")
    embed.add_argument("--shard-rows", type=int, default=50_000, help="rows per Parquet shard of a directory --out")
    embed.add_argument("--address", default=None, help="ray: auto (this node's running cluster) or HOST:PORT of the "
                       "head node (default: a Ray started on this machine for the run)")
    embed.add_argument("--num-workers", type=int, default=None, help="ray: actors, one model each (default: the cluster's "
                       "CPUs ÷ --num-cpus, or GPUs ÷ --num-gpus)")
    embed.add_argument("--num-gpus", type=float, default=None, help="ray: GPUs per actor (default 0)")
    embed.add_argument("--num-cpus", type=float, default=None, help="ray: CPUs per actor, and its torch threads (default 1)")
    embed.add_argument("--rows-per-task", type=int, default=None, help="ray: rows per actor call, sorted by length inside "
                       "(default: about 4 calls per actor, at most 1,024 rows)")
    embed.set_defaults(run=_cmd_embed)

    search = commands.add_parser("search", help="rank a corpus for a query as the model would (or evaluate an example)")
    search.add_argument("--query", default=None)
    search.add_argument("--corpus", default=None, help="a CSV/TSV/Parquet/TXT file of passages")
    search.add_argument("--text-column", default="text")
    search.add_argument("--example", choices=("stsb-dev", "python-docstrings"), default=None)
    search.add_argument("--evaluate", action="store_true", help="recall@1 and recall@10 over the example's queries")
    search.add_argument("--top-k", type=int, default=10)
    search.add_argument("--expected", type=int, default=None, help="the passage (0-based) you expected: its rank")
    search.add_argument("--chunk-tokens", type=int, default=0, help="split passages into chunks of N tokens (0 = truncate)")
    search.add_argument("--overlap", type=int, default=16)
    search.add_argument("--query-prompt", default=None, help="default: the model's own query prompt")
    search.add_argument("--document-prompt", default=None, help="default: the model's own document prompt")
    search.add_argument("--model", default=None)
    search.add_argument("--device", default="auto")
    search.set_defaults(run=_cmd_search)

    sts = commands.add_parser("sts-eval", help="Spearman x100 of each pooling on an STS CSV (sentence1,sentence2,score)")
    sts.add_argument("file")
    sts.add_argument("--model", default=None)
    sts.add_argument("--device", default="auto")
    sts.add_argument("--pooling", action="append", help="a pooling to evaluate (repeatable; default: all)")
    sts.add_argument("--batch-size", type=int, default=32)
    sts.set_defaults(run=_cmd_sts_eval)

    warm = commands.add_parser("warm", help="before class: load the model, trace a text, compile UMAP (numba's cache)")
    warm.add_argument("--model", default=None)
    warm.add_argument("--device", default="auto")
    warm.add_argument("--no-projections", action="store_true", help="skip compiling UMAP")
    warm.set_defaults(run=_cmd_warm)

    settings = commands.add_parser("settings", help="check the host's settings (EXPLORER_* and [explorer] in secrets.toml)")
    settings.set_defaults(run=_cmd_settings)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    if args.command != "settings":  # the settings check stays light: no torch, no transformers
        from .models.loading import quiet_transformers_logging

        quiet_transformers_logging()
    try:
        return args.run(args)
    except ExplorerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
