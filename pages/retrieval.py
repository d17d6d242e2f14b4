"""Retrieval debugger: rank your own corpus for a query as the model does, then find out why a
passage ranked where it did, what would change it, whether its score is high, and train a fix."""

import pandas as pd
import streamlit as st

from core import ExplorerError
from core.analysis.model_comparison import compare_rankings
from core.retrieval.corpus import MAX_PASSAGES, Chunking, clean_passages, passages_from_table
from core.retrieval.explain import query_token_difference, word_contributions
from core.retrieval.search import rank
from core.retrieval.teach import MAX_TEACH_STEPS
from core.text.datasets import read_table, vectors_from_column
from ui import retrieval_state as rs
from ui import callbacks, classroom, state
from ui.hosting import host_settings
from ui.common import stage_header, window_warning
from ui.export import show_figure
from ui.labels import md_escape, signed_number, visible, zero_unsigned
from ui.page_list import HOME
from ui.retrieval_views import (
    is_hamming, layer_similarity_lines, pair_heatmap, passage_label, passage_preview, score_histograms, shared_limit,
    share_chips_html, teach_loss_curve, token_count_histogram, what_if_bars, word_columns,
)
from ui.tokenization_views import truncated_document_html
from ui.tables import show_table

MAX_PICKER = 2_000   # passages a selectbox lists; larger corpora pick by number
SIDE_BY_SIDE_WORDS = 14  # pair heatmaps with more word columns than this get the full width, one above the other


def passage_name(p: int) -> str:
    return f"passage {p + 1}"


if st.session_state.pop("rt_go_home", False):
    st.switch_page(HOME)
stage_header(
    "Retrieval debugger",
    "Search embeds every passage once and the query at question time, then ranks the passages by their score "
    "against the query. When the passage you expected is not on top, this page shows why: what the model "
    "actually read, which token pairs made the score, what edit would move it, whether a score is high at all "
    "for this model, and whether a few training steps fix it.",
)
model = state.current_model()
if model is None:
    st.stop()
info = model.info
model_id, device = st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY]
second_model = state.compare_model()  # "Compare with…": the same query and corpus ranked by a second model (None: none)
rs.restore_inputs()
rs.init_inputs(model)
summary = st.container()  # the expected passage's rank, once it is known

# ---------------------------------------------------------------- query and corpus
st.header("Query and corpus")
passage_cap = min(MAX_PASSAGES, host_settings().max_passages)  # the host may set a lower cap for a class
choice = st.radio("Corpus", rs.CORPUS_CHOICES, format_func=rs.CORPUS_LABELS.get, key="rt_corpus", horizontal=True,
                  on_change=rs.corpus_changed)
example = rs.example(choice) if choice in rs.EXAMPLES else None
q1, q2 = st.columns([3, 2])
q1.text_input("Query", key="rt_query", max_chars=2_000, help="Press Enter to rank the corpus for it.")
if example is not None:
    picker = f"rt_example_query_{choice}"
    query_now = st.session_state["rt_query"]
    position = example.queries.index(query_now) if query_now in example.queries else st.session_state.get(picker, 0)
    rs.sync_choice(picker, position, len(example.queries))
    q2.selectbox("Example query", range(len(example.queries)), key=picker, on_change=rs.example_query_chosen,
                 args=(choice, picker), format_func=lambda i: f"{i + 1}. {visible(example.queries[i], show_spaces=False)[:110]}",
                 help="Fills the query box and marks the passage that answers it as the one you expected.")

raw, dropped, precomputed = None, 0, None
try:
    if example is not None:
        st.caption(f"{len(example.passages):,} passages, {len(example.queries):,} queries with known answers · "
                   f"{md_escape(example.source)}")
        raw = example.passages
    elif choice == "pasted":
        st.text_area("Passages, one per line", key="rt_pasted", height=180, max_chars=4_000_000,
                     help=f"Blank lines are skipped; at most {passage_cap:,} passages.")
        raw = st.session_state["rt_pasted"].splitlines()
    else:
        upload = st.file_uploader(f"Passages as a table: CSV, TSV, Parquet, JSONL, or TXT (one per line); at most "
                                  f"{passage_cap:,}", type=["csv", "tsv", "parquet", "jsonl", "ndjson", "txt"], key="rt_upload")
        if upload is None:
            st.info("Upload a file of passages to rank them.")
        else:
            frame = read_table(upload.getvalue(), upload.name)
            columns = list(frame.columns)
            if st.session_state.get("rt_column") not in columns:
                st.session_state["rt_column"] = rs.default_text_column(columns)
            column = st.selectbox("Passage column", columns, key="rt_column")
            if "vector" in columns and column != "vector":  # texts with their vectors, as `python -m core embed` writes
                precomputed = vectors_from_column(frame["vector"])
                raw = [str(text) for text in frame[column].tolist()]
            else:
                raw, dropped = passages_from_table(frame, column)
    passages = (tuple(raw) if precomputed is not None else tuple(clean_passages(raw, passage_cap))) if raw is not None else None
except ExplorerError as error:
    st.error(md_escape(str(error)))
    passages = None
if dropped:
    st.caption(f"{dropped:,} empty rows skipped.")

p1, p2 = st.columns(2)
with p1:
    use_prompts = st.toggle("Use the prompts", key="rt_use_prompts",
                            help="Instructions put in front of the text before it is embedded, as encode_query and "
                                 "encode_document do. Off: both texts are embedded as they are.")
    st.text_input("Query prompt", key="rt_query_prompt", disabled=not use_prompts, max_chars=500, placeholder="(no prompt)",
                  help="The model's own query prompt ('' where it defines none); edit it to try another.")
    st.text_input("Document prompt", key="rt_doc_prompt", disabled=not use_prompts, max_chars=500, placeholder="(no prompt)",
                  help="Put in front of every passage before it is embedded.")
with p2:
    mode = st.radio("Chunking", ["truncate", "chunks"], key="rt_chunking",
                    format_func={"truncate": "truncate as sentence-transformers does",
                                 "chunks": "chunks of N tokens with overlap M"}.get,
                    help="Truncate: each passage is one vector of its first window of tokens. Chunks: each passage is "
                         "cut into windows that fit, each embedded; a passage scores as its best chunk.")
    if mode == "chunks":
        c1, c2 = st.columns(2)
        c1.number_input("N: tokens per chunk", min_value=16, max_value=int(info.max_seq_length), step=16, key="rt_chunk_tokens")
        c2.number_input("M: overlap (tokens)", min_value=0, max_value=int(st.session_state["rt_chunk_tokens"]) // 2, step=4,
                        key="rt_overlap")
rs.keep_inputs()
query_prompt = st.session_state["rt_query_prompt"] if use_prompts else ""
doc_prompt = st.session_state["rt_doc_prompt"] if use_prompts else ""
query = st.session_state.get("rt_query") or ""
if passages is None:
    if raw is not None or choice == "pasted":
        st.caption("Nothing is lost: fix the corpus above and the page ranks it.")
    st.stop()
n = len(passages)

# ---------------------------------------------------------------- embedding the corpus (cached)
try:
    chunking = Chunking(mode, int(st.session_state["rt_chunk_tokens"]), int(st.session_state["rt_overlap"]))
except ExplorerError as error:
    st.error(md_escape(str(error)))
    st.stop()
key = rs.index_key(model_id, device, passages, chunking if precomputed is None else rs.vectors_tag(precomputed), doc_prompt)
if precomputed is not None:
    mode = "truncate"  # one vector per passage, as the file has them
    try:
        with st.spinner(f"Reading {n:,} passages with their vectors…"):
            index, agreement = rs.vector_index(key, passages, precomputed)
    except ExplorerError as error:
        st.error(md_escape(str(error)))
        st.stop()
    st.caption(f"The file's own vectors rank the {n:,} passages: nothing was embedded but a check of the first few, "
               f"whose vectors match {md_escape(info.model_id)}'s own to a cosine of {agreement:.5f}. Chunking and the "
               "other poolings need the passages' token states, so they are off for uploaded vectors.")
    if agreement < 0.999:
        st.warning(f"These vectors are not what {md_escape(info.model_id)} makes for these passages with this document "
                   f"prompt (cosine {agreement:.4f} for the first ones): scores below mix two models.")
elif not rs.has_index(key):
    if n > rs.ASK_ABOVE and st.session_state.get("rt_embed_ok") != key:
        st.info(f"{n:,} passages to embed with {md_escape(info.model_id)} (about {n / 150:.0f} s on a 2-core CPU, every "
                "pooling from one pass).")
        if st.button("Embed the corpus", type="primary", key="rt_embed"):
            st.session_state["rt_embed_ok"] = key
            st.rerun()
        st.stop()
    bar = st.progress(0.0, text=f"Embedding {n:,} passages…")
    stop_slot = st.empty()
    stop_slot.button("Stop", key="rt_stop", help="Stops the embedding; what you typed or uploaded stays.",
                     on_click=callbacks.forget, args=("rt_embed_ok",))

    def progress(done, total):
        bar.progress(done / total, text=f"Embedding the corpus: {done:,} / {total:,} texts")

    try:
        index = rs.corpus_index(key, passages, progress=progress)
    except ExplorerError as error:
        bar.empty()
        stop_slot.empty()
        st.error(md_escape(str(error)))
        st.stop()
    bar.empty()
    stop_slot.empty()
else:
    index = rs.corpus_index(key, passages)
budget = index.budget
if index.corpus.duplicates:
    pairs = [f"{later + 1} repeats {first + 1}" for later, first in index.corpus.duplicates[:10]]
    more = len(index.corpus.duplicates) - len(pairs)
    st.info(f"Duplicate passages: {', '.join(pairs)}" + (f" and {more:,} more" if more > 0 else "")
            + ". A repeat gets exactly its original's score, so the two tie in the ranking.")

expected = min(int(st.session_state["rt_expected"]), n - 1)
query_error, encoding, ranking = None, None, None
try:
    encoding = rs.query_encoding(model_id, device, query, query_prompt)
    ranking = rank(index, encoding)
except ExplorerError as error:
    query_error = str(error)
top = int(ranking.order[0]) if ranking is not None else None

# ---------------------------------------------------------------- token budget
st.header("Token budget")
over = len(budget.truncated_indices)
b1, b2, b3 = st.columns(3)
b1.metric("passages over the window", f"{over:,} of {n:,} ({budget.share_truncated:.1%})",
          help="Passages that need more tokens than the model reads; without chunks their tail is never embedded.")
b2.metric("tokens per word", f"{budget.tokens_per_word:.2f}", help="The corpus's tokens (no special tokens, no prompt) per "
          "whitespace word: the more, the sooner the window fills.")
b3.metric("window", f"{budget.max_length:,} tokens", help=f"{md_escape(info.model_id)}'s max_seq_length.")
counts, edges = budget.histogram()
show_figure(token_count_histogram(counts, edges, budget.max_length), key="rt_budget_hist", name="retrieval-token-counts")
if mode == "chunks":
    st.caption(f"Chunks: nothing is cut; the {n:,} passages became {len(index.corpus.units):,} chunks of at most "
               f"{min(chunking.chunk_tokens, budget.max_length)} tokens, and each passage scores as its best chunk.")
else:
    window_warning(budget, info.model_id, noun="passage")

if ranking is not None:
    shown = [("The top passage, the one you expected" if expected == top else "The top passage", top)]
    shown += [("The passage you expected", expected)] if expected != top else []
    for label, p in shown:
        item = budget.texts[p]
        name = f"{label} ({passage_name(p)})"
        if mode == "chunks":
            unit = index.corpus.units[int(ranking.best_unit[p])]
            parts = len(index.corpus.units_of(p))
            st.caption(f"{md_escape(name)}: {item.n_tokens:,} tokens, read in {parts} chunk{'s' * (parts > 1)}; its score "
                       f"comes from chunk {unit.chunk + 1} (characters {unit.start_char:,}–{unit.end_char:,}).")
        elif item.truncated:
            st.markdown(f"**{md_escape(name)}** needs {item.n_tokens:,} tokens: the model reads the first "
                        f"{item.kept_tokens:,} and never sees the rest (greyed, {item.dropped_tokens:,} tokens).")
            st.html(truncated_document_html(passages[p], item.cut_at_char))
        else:
            st.caption(f"{md_escape(name)} fits: {item.n_tokens:,} tokens of {budget.max_length:,}; the model reads all of it.")

if query_error is not None:
    st.warning(md_escape(query_error) + " The corpus above is embedded and kept; nothing is lost.")
    st.stop()

# ---------------------------------------------------------------- the compared model's ranking
def compared_ranking() -> rs.ComparedRanking | None:
    """The same query over the same corpus ranked by the compared model, each side by its own pipeline
    (its own prompts when the prompts are on, its pooling, its similarity, its window; the chunking
    above), or None after saying why not."""
    second_id, second_info = st.session_state[state.COMPARE_KEY], second_model.info
    query_prompt_b, doc_prompt_b = rs.compared_prompts(second_model, use_prompts)
    chunking_b = chunking if precomputed is None else Chunking()  # uploaded vectors are this model's: it embeds
    key_b = rs.index_key(second_id, device, passages, chunking_b, doc_prompt_b)
    if rs.has_index(key_b):
        index_b = rs.corpus_index(key_b, passages)
    else:
        if n > rs.ASK_ABOVE and st.session_state.get("rt_compare_embed_ok") != key_b:
            st.info(f"{n:,} passages to embed with the compared model, {md_escape(second_info.model_id)} (about "
                    f"{n / 150:.0f} s on a 2-core CPU). Until then the page ranks with this model alone.")
            st.button("Embed the corpus with the compared model", key="rt_compare_embed", on_click=callbacks.set_values,
                      args=({"rt_compare_embed_ok": key_b},))
            return None
        bar = st.progress(0.0, text=f"Embedding {n:,} passages with the compared model…")
        stop_slot = st.empty()
        if n > rs.ASK_ABOVE:
            stop_slot.button("Stop", key="rt_compare_stop", on_click=callbacks.forget, args=("rt_compare_embed_ok",),
                             help="Stops the compared model's embedding; this model's ranking and what you typed stay.")

        def progress(done, total):
            bar.progress(done / total, text=f"Embedding the corpus with the compared model: {done:,} / {total:,} texts")

        try:
            index_b = rs.corpus_index(key_b, passages, progress=progress)
        except ExplorerError as error:
            st.warning(f"The compared model, {md_escape(second_info.model_id)}: {md_escape(str(error))}")
            return None
        finally:
            bar.empty()
            stop_slot.empty()
    try:
        encoding_b = rs.query_encoding(second_id, device, query, query_prompt_b)
        return rs.ComparedRanking(second_id, key_b, index_b, encoding_b, rank(index_b, encoding_b))
    except ExplorerError as error:
        st.warning(f"The compared model, {md_escape(second_info.model_id)}: {md_escape(str(error))}")
        return None


def ranking_table(shown_ranking, rows) -> pd.DataFrame:
    return pd.DataFrame({
        "rank": [shown_ranking.rank_of(p) for p in rows],
        "#": [p + 1 for p in rows],
        "score": [float(shown_ranking.scores[p]) for p in rows],
        "expected": ["← expected" if p == expected else "" for p in rows],
        "passage": [passage_preview(passages[p]) for p in rows],
    })


RANKING_COLUMNS = {"score": st.column_config.NumberColumn(format="%.5f"),
                   "#": st.column_config.NumberColumn(help="the passage's number in the corpus")}

# ---------------------------------------------------------------- ranking
st.header("Ranking")
expected_rank, expected_score, top_score = ranking.rank_of(expected), float(ranking.scores[expected]), float(ranking.scores[top])
with summary:
    m1, m2, m3 = st.columns(3)
    m1.metric(f"rank of the passage you expected ({passage_name(expected)})", f"{expected_rank:,} of {n:,}")
    m2.metric("its score", signed_number(expected_score, 5), help=f"{md_escape(ranking.similarity)} of the query's vector and the passage's: "
              "higher ranks higher. Whether it is high for this model: 'Is this score high?' below.")
    m3.metric("top passage", f"{passage_name(top)} · {signed_number(top_score, 5)}")
st.session_state["rt_k"] = min(max(int(st.session_state["rt_k"]), 1), min(50, n))
k = st.slider("Passages to list (top-k)", 1, min(50, n), key="rt_k")
listed = [p for p, _ in ranking.top(k)]
rows = listed + ([expected] if expected not in listed else [])
second = compared_ranking() if second_model is not None else None
ranking_slot, second_slot = st.columns(2) if second is not None else (st, None)
if second is not None:
    ranking_slot.markdown(f"**This model, {md_escape(info.model_id)}**")
show_table(ranking_table(ranking, rows), slot=ranking_slot, hide_index=True, width="stretch", key="rt_ranking",
                       height=35 * (len(rows) + 1) + 3, column_config=RANKING_COLUMNS)
if second is not None:
    second_listed = [p for p, _ in second.ranking.top(k)]
    second_rows = second_listed + ([expected] if expected not in second_listed else [])
    second_slot.markdown(f"**The compared model, {md_escape(second_model.info.model_id)}**")
    show_table(ranking_table(second.ranking, second_rows), slot=second_slot, hide_index=True, width="stretch",
                          key="rt_ranking_compared", height=35 * (len(second_rows) + 1) + 3, column_config=RANKING_COLUMNS)
st.caption(f"Scores: {md_escape(ranking.similarity)} of the query's vector and each passage's ({md_escape(info.model_id)}'s "
           f"own similarity and {md_escape(index.native_pooling)} pooling), 5 decimals"
           + (" (1 = pointing the same way, 0 = unrelated)." if ranking.similarity == "cosine" else ".")
           + (" A passage scores as its best chunk." if mode == "chunks" else "")
           + (f" The expected passage ranks {expected_rank:,}: its row is added below the top {k}." if expected not in listed else ""))

if example is not None:  # every query of the example against its known answer: how this model does here overall
    with st.spinner(f"Ranking the example's {len(example.queries):,} queries…"):
        recall = rs.example_recall(key, index, choice, query_prompt)
    r1, r2 = st.columns(2)
    r1.metric("recall@1 over the example's queries", f"{recall[1]:.2%}",
              help="Share of the example's queries whose known answer ranks first, with the prompts and chunking above.")
    r2.metric("recall@10", f"{recall[10]:.2%}", help="Share whose answer is among the top 10.")
    if second is not None:
        with st.spinner(f"Ranking the example's {len(example.queries):,} queries with the compared model…"):
            second_recall = rs.example_recall(second.key, second.index, choice, second.encoding.prompt)
        r1.metric("recall@1, compared model", f"{second_recall[1]:.2%}",
                  help=f"The same queries ranked by {md_escape(second_model.info.model_id)} with its own prompts.")
        r2.metric("recall@10, compared model", f"{second_recall[10]:.2%}")
    st.caption(f"From the shell, with the model's own prompts and no chunks (so other numbers where you changed those): "
               f"`python -m core search --example {rs.CLI_EXAMPLE_NAMES[choice]} --evaluate`.")

if second is not None:
    st.subheader("Where the two models disagree")
    both = compare_rankings(ranking.order, second.ranking.order, k=10)
    second_info = second_model.info
    d1, d2, d3, d4 = st.columns(4)
    d1.metric(f"top {both.k}: passages in both", f"{both.shared_top} of {both.k}")
    d2.metric("Spearman of the ranks", signed_number(both.spearman, 3),
              help=f"How alike the two models order all {n:,} passages (1 = the same order, 0 = unrelated, −1 = reversed).")
    d3.metric("Kendall τ of the ranks", signed_number(both.kendall, 3),
              help="The share of passage pairs both models put in the same order, minus the share they swap.")
    d4.metric(f"{passage_name(expected)}, the one you expected: rank under each",
              f"{int(both.ranks_a[expected]):,} · {int(both.ranks_b[expected]):,}",
              help="Under this model · under the compared model.")
    st.caption(f"Each model ranks with its own pipeline: this one with the prompts above, {md_escape(index.native_pooling)} "
               f"pooling and {md_escape(ranking.similarity)}; {md_escape(second_info.model_id)} with "
               + (f"its own prompts (query {md_escape(repr(second.encoding.prompt))}, document "
                  f"{md_escape(repr(second.index.document_prompt))}), " if use_prompts else "no prompts, ")
               + f"{md_escape(second.index.native_pooling)} pooling and {md_escape(second.ranking.similarity)}, "
               + ("embedding the passages itself (the file's vectors are this model's). " if precomputed is not None
                  else "the same chunking. ")
               + "Scores do not compare across models; ranks do. Ranks over all passages, equal scores in passage order.")
    if mode == "truncate":  # chunks cut nothing: each passage scores as its best chunk under each model
        window_warning(second.index.budget, second_info.model_id, noun="passage")

    def disagreement_table(numbers) -> pd.DataFrame:
        return pd.DataFrame({"#": [p + 1 for p in numbers],
                             "rank, this model": [int(both.ranks_a[p]) for p in numbers],
                             "rank, compared": [int(both.ranks_b[p]) for p in numbers],
                             "expected": ["← expected" if p == expected else "" for p in numbers],
                             "passage": [passage_preview(passages[p], 200) for p in numbers]})

    for title, numbers, table_key in (
            (f"In this model's top {both.k}, ranked below {both.k} by the compared one", both.only_in_top_a(), "rt_only_a"),
            (f"In the compared model's top {both.k}, ranked below {both.k} by this one", both.only_in_top_b(), "rt_only_b")):
        st.markdown(f"**{title}**")
        if numbers:
            show_table(disagreement_table(numbers), hide_index=True, width="stretch", key=table_key)
        else:
            st.caption("None: the two top lists hold the same passages.")
    st.markdown("**The largest rank changes over the whole corpus**")
    show_table(disagreement_table(both.most_moved(min(10, n))), hide_index=True, width="stretch", key="rt_most_moved")
    st.caption("The sections below explain this model's ranking.")

if n <= MAX_PICKER:
    picker = f"rt_expected_{key[2][:12]}"  # a new corpus gets a new picker (its labels would go stale)
    rs.sync_choice(picker, expected, n)
    st.selectbox("The passage I expected", range(n), key=picker, on_change=rs.expected_chosen, args=(picker,),
                 format_func=lambda p: passage_label(p, passages[p]))
else:
    st.session_state["rt_expected_number"] = expected + 1
    st.number_input(f"The passage I expected (its number, 1–{n:,})", min_value=1, max_value=n, step=1,
                    key="rt_expected_number", on_change=rs.expected_number_chosen)

open_choices = [-1, *dict.fromkeys([*listed[:10], expected])]
if st.session_state.get("rt_open_pick") not in open_choices:
    st.session_state["rt_open_pick"] = -1
o1, o2 = st.columns([3, 1], vertical_alignment="bottom")
chosen_open = o1.selectbox("Open a text in the stage pages", open_choices, key="rt_open_pick",
                           format_func=lambda p: "the query" if p < 0 else
                           f"{passage_label(p, passages[p], 60)} (rank {ranking.rank_of(p)})")
o2.button("Open in the stage pages", key="rt_open", on_click=rs.open_in_stages,
          args=(query if chosen_open < 0 else passages[chosen_open],),
          help=f"Makes it the text in {classroom.text_box_place()} and opens the overview: every stage of the model, "
               "for this text.")

# ---------------------------------------------------------------- why this rank
st.header("Why this rank")
other = expected if expected != top else (int(ranking.order[1]) if n > 1 else None)
if expected == top:
    st.success(f"The passage you expected is on top. Below it is compared with the runner-up, {passage_name(other)}.")
explained = {}
try:
    for p in dict.fromkeys([top, other]):
        unit = index.corpus.units[int(ranking.best_unit[p])]
        explained[p] = rs.explanation(model_id, device, encoding, unit.text, doc_prompt, p)
except (ExplorerError, ValueError) as error:
    st.info(f"No token-pair split here: {md_escape(str(error))}")
if len(explained) == 2:
    first, second = explained[top], explained[other]
    role = {top: "top", other: "expected" if other == expected else "runner-up"}
    if not first.exact:
        reasons = ([f"it has {len(info.dense_layers)} Dense layer(s) after pooling"] if info.dense_layers else []) + (
            [f"it scores by {md_escape(info.similarity_fn_name)}, not cosine"] if info.similarity_fn_name != "cosine" else [])
        st.info("The split below is of the cosine of the pooled vectors, not of the ranking's score exactly: "
                + (" and ".join(reasons) or "the model's pipeline changes the pooled vector") + ". It still shows which "
                "token pairs bring the two texts together.")
    st.markdown("The score splits exactly into one share per (query token, passage word) pair; blue adds to the score, "
                "red takes from it. The shares add up to the cosine of the two pooled vectors.")
    # side by side while both passages are short; a long one needs the width to name each of its word columns
    wide = max(word_columns(explained[p].passage_words.shares) for p in (top, other)) > SIDE_BY_SIDE_WORDS
    cols = [st.container(), st.container()] if wide else st.columns(2)
    merged = {p: word_contributions(explained[p]) for p in (top, other)}
    limit = shared_limit(*merged.values())
    chip_limit = shared_limit(first.query_shares, second.query_shares)
    for column, p in zip(cols, (top, other)):
        split = explained[p]
        with column:
            unit = index.corpus.units[int(ranking.best_unit[p])]
            where = (f" (its best chunk, {unit.chunk + 1} of {len(index.corpus.units_of(p))}: characters "
                     f"{unit.start_char:,}–{unit.end_char:,})" if mode == "chunks" else "")
            st.markdown(f"**{role[p].capitalize()}: {passage_name(p)}**, rank {ranking.rank_of(p)}, score "
                        f"{float(ranking.scores[p]):.5f}{where}")
            show_figure(pair_heatmap(merged[p], split.query_tokens, split.passage_words.words,
                                     split.passage_words.shares, title=f"shares of {split.score:.5f}", limit=limit),
                        key=f"rt_pairs_{role[p]}", name=f"retrieval-pairs-{role[p]}-passage{p + 1}")
            st.html(share_chips_html(split.query_tokens, split.query_shares, limit=chip_limit,
                                     title=f"query tokens, by their share of the score against {passage_name(p)}"))
            if split.passage_truncated_tokens:
                st.caption(f"The last {split.passage_truncated_tokens:,} tokens of this passage are not in the split: the "
                           "model never read them.")
    difference = query_token_difference(first, second)
    st.html(share_chips_html(first.query_tokens, difference,
                             title=f"difference: blue query tokens gave the top passage more than the {role[other]} one, "
                                   f"red gave the {role[other]} one more"))
    show_figure(layer_similarity_lines({f"top ({passage_name(top)})": first.layer_similarity,
                                        f"{role[other]} ({passage_name(other)})": second.layer_similarity}),
                key="rt_layers", name="retrieval-similarity-by-layer")
    st.caption("The same pooling applied after every layer: where in the network the query and each passage came together.")

# ---------------------------------------------------------------- what if
st.header("What if")
st.markdown(f"Each edit re-ranks the whole corpus and reports where {passage_name(expected)} (the one you expected) lands.")
try:
    report = rs.query_whatifs(key, index, encoding, expected)
except ExplorerError as error:
    st.warning(md_escape(str(error)))
    report = None


def what_if_table(items) -> pd.DataFrame:
    return pd.DataFrame({"edit": [item.group for item in items], "change": [visible(item.label, show_spaces=False) for item in items],
                         "rank": [item.rank for item in items], "places moved up": [item.rank_change for item in items],
                         "score": [zero_unsigned(round(item.score, 5)) for item in items],
                         "score change": [zero_unsigned(round(item.score_change, 5)) for item in items]})


WHAT_IF_COLUMNS = {"score": st.column_config.NumberColumn(format="%.5f"),
                   "score change": st.column_config.NumberColumn(format="%+.5f")}
if report is not None and report.items:
    show_figure(what_if_bars(report.items, expected_label=passage_name(expected)), key="rt_whatif",
                name=f"retrieval-what-if-passage{expected + 1}")
    show_table(what_if_table(report.items), hide_index=True, width="stretch", key="rt_whatif_table",
                 column_config=WHAT_IF_COLUMNS)
    if not any(item.rank_change for item in report.items):
        st.caption(f"None of these edits moves {passage_name(expected)} from rank {expected_rank:,}: the left panel is "
                   "empty; the score bars show how much each edit changes its score.")
if report is not None and any(is_hamming(item) for item in report.items):
    st.caption("Binary vectors rank by −Hamming distance of the sign bits (minus how many of the vectors' signs "
               "differ), not by a similarity: their score is in the table, not among the score bars.")
for note in report.notes if report is not None else ():
    st.caption(md_escape(note))
words_request = (key, query, query_prompt, expected)
if st.button("Try removing each word of the expected passage", key="rt_passage_whatif"):
    st.session_state["rt_passage_request"] = words_request
if st.session_state.get("rt_passage_request") == words_request:
    with st.spinner("Embedding the passage once per removed word…"):
        words_report = rs.passage_whatifs(key, index, encoding, expected)
    if words_report.items:
        show_figure(what_if_bars(words_report.items, expected_label=passage_name(expected)), key="rt_whatif_words",
                    name=f"retrieval-what-if-words-passage{expected + 1}")
        show_table(what_if_table(words_report.items), hide_index=True, width="stretch", key="rt_whatif_words_table",
                     column_config=WHAT_IF_COLUMNS)
    for note in words_report.notes:
        st.caption(md_escape(note))

# ---------------------------------------------------------------- is this score high?
st.header("Is this score high?")
context = rs.scores_of(key, index, encoding)
marks = {"top": top_score} if expected == top else {"top": top_score, "expected": expected_score}
show_figure(score_histograms(context.random_pair_scores, context.query_scores, marks, context.similarity), key="rt_scores",
            name="retrieval-score-context")
s1, s2, s3 = st.columns(3)
s1.metric("anisotropy: mean cosine of random pairs", f"{context.anisotropy:.3f}",
          help="The average cosine of random pairs of different passages of this corpus: the score two unrelated texts "
               "already get. Near 0, scores read as they are; well above 0, every score starts that high.")
s2.metric("expected: percentile among random pairs", f"{context.percentile_among_pairs(expected_score):.1f} %",
          help="The share of random pairs of different passages of this corpus that score lower than the expected passage.")
s3.metric("expected: percentile among the query's scores", f"{context.percentile_among_query(expected_score):.1f} %",
          help="The share of the query's scores against every passage that are lower than the expected passage's.")
lean = ("their vectors all lean one way, so every score starts high" if context.anisotropy > 0.15 else
        "close to 0: this model spreads this corpus's vectors out well")
st.markdown(f"Two unrelated passages of this corpus already score **{context.anisotropy:.3f}** on average under this model "
            f"({lean}): read a score against that, not against 0. The top passage's score beats "
            f"{context.percentile_among_pairs(top_score):.1f} % of random pairs.")
if context.similarity != "cosine":
    st.caption(f"The anisotropy is a cosine; the scores are {md_escape(context.similarity)}.")

# ---------------------------------------------------------------- fix it by training
st.header("Fix it by training")
st.markdown(f"A few contrastive steps on a private copy of the model: the query as the anchor, {passage_name(expected)} as "
            "its positive, the other passages the copy ranks highest now (those above it first) as negatives. The shared "
            "model is never changed. Then the whole corpus is embedded again with the copy"
            + (", and the example's other queries, never trained on, say whether the fix carries over or breaks "
               "something." if example is not None else "."))
held_out = rs.held_out_queries(choice, query) if example is not None else ((), ())
if n > passage_cap:  # the trained copy embeds the whole corpus again, twice
    st.info(f"Training re-embeds the corpus with the copy: this page does that for at most {passage_cap:,} passages "
            f"(this corpus has {n:,}).")
    st.stop()
t1, t2 = st.columns([3, 1], vertical_alignment="bottom")
step_cap = min(MAX_TEACH_STEPS, host_settings().max_training_steps)
st.session_state["rt_steps"] = min(int(st.session_state.get("rt_steps", 8)), step_cap)
steps = t1.slider("Training steps", 1, step_cap, key="rt_steps")
teach_request = rs.teach_key(key, query, expected, int(steps), held_out)
if t2.button("Train a copy on this pair", key="rt_teach", type="primary"):
    st.session_state["rt_teach_request"] = teach_request
if st.session_state.get("rt_teach_request") == teach_request:
    bar = stop = None
    if not rs.has_taught(teach_request):
        bar = st.progress(0.0, text="Embedding the corpus with the copy, then training…")
        stop = st.empty()
        stop.button("Stop training", key="rt_teach_stop", on_click=callbacks.forget, args=("rt_teach_request",),
                    help="Stops the run; the shared model was never touched.")

    def teach_progress(step, total, loss):
        bar.progress(step / total, text=f"Step {step} of {total} · loss {loss:.4f}"
                     + (" · embedding the corpus again with the trained copy…" if step == total else ""))

    try:
        result = rs.taught(teach_request, index, held_out, progress=teach_progress if bar is not None else None)
    except ExplorerError as error:
        st.error(md_escape(str(error)))
        result = None
    if bar is not None:
        bar.empty()
        stop.empty()
    if result is not None:
        r1, r2, r3 = st.columns(3)
        r1.metric(f"rank of {passage_name(expected)}", f"{result.rank_before:,} → {result.rank_after:,}",
                  delta=result.rank_before - result.rank_after, help="Positive: it moved up.")
        r2.metric("its score", f"{signed_number(result.score_before, 5)} → {signed_number(result.score_after, 5)}",
                  delta=signed_number(result.score_after - result.score_before, 5, plus=True))
        r3.metric("training time", f"{result.seconds:.1f} s for {len(result.losses)} steps",
                  help="The steps alone; embedding the corpus with the copy before and after takes longer.")
        st.caption("Negatives used: " + ", ".join(passage_name(q) for q in result.negatives) + ".")
        if result.held_out:
            st.markdown(f"Of {len(result.held_out):,} held-out queries, **{result.improved:,} got better, {result.worsened:,} "
                        f"worse, {result.unchanged:,} unchanged** (the rank of each one's known answer).")
        else:
            st.caption("With pasted or uploaded passages there are no other queries with known answers, so only this "
                       "pair's change is shown: a bundled example also checks what the training did to other queries.")
        show_figure(teach_loss_curve(result.losses), key="rt_loss", name="retrieval-training-loss")
        st.caption("Ranks here come from the training copy (mean pooling, normalised, no prompts), so 'before' can "
                   "differ a little from the ranking above.")
