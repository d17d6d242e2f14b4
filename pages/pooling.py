"""Stage 6: many token vectors → one sentence vector, what each pooling choice costs, and
how well each one ranks sentence pairs (STS benchmark)."""

import hashlib

import pandas as pd
import streamlit as st

from core import ExplorerError, POOLING_LABELS
from core.text.datasets import read_table
from core.text.datasets import sentence_set as sentence_set_from
from core.analysis.pooling_comparison import compare_poolings, pooling_names
from core.analysis.similarity import cosine, cosine_matrix, model_similarity_comparison, off_diagonal_mean, pair_contributions
from core.pipeline.pooling import compared_poolings
from ui import state
from ui.tables import show_table
from ui.common import model_caption, stage_header, truncation_notice, window_caption, window_warning
from ui.export import show_figure
from ui.figures import heatmap, matrix_grid, token_heatmap
from ui.labels import e_notation_meaning, gap_number, md_escape, signed_number, text_label, unique_labels, visible, zero_unsigned
from ui.pooling_views import max_wins_bar, sts_bars, sts_scatter
from ui.pooling_state import (
    EXAMPLE_SETS, MAX_SENTENCES, STS_FILES, embed_set, idf_for, read_lines, sentence_budgets, sts_result, sts_sentences,
)


def label(name: str, native: str) -> str:
    text = POOLING_LABELS.get(name, name)
    return f"{text} (native)" if name == native else text


def idf_corpus(trace) -> tuple[tuple[str, ...], str]:
    """The corpus the IDF weights come from, as the user chose it."""
    choice = st.session_state.get("pool_idf_source", "The sentences on this page")
    if choice.startswith("STS-B"):
        return tuple(sts_sentences(str(STS_FILES["STS-B dev (1,500 pairs)"]))), "the 2,910 unique sentences of STS-B dev"
    if choice.startswith("An uploaded"):
        upload = st.session_state.get("pool_idf_upload")
        if upload is not None:
            frame = read_table(upload.getvalue(), upload.name)
            column = "text" if "text" in frame.columns else frame.columns[0]
            texts = sentence_set_from(frame, column).texts
            return tuple(texts), f"the {len(texts):,} texts of {visible(upload.name, False)} (column {column})"
        st.info("No file uploaded yet: using the sentences on this page.")
    sentences = tuple(sentence_set())
    corpus = tuple(dict.fromkeys(sentences + (trace.text,)))
    return corpus, f"the {len(corpus)} sentences on this page (your text and the similarity set)"


def _joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def pooling_baseline_caption(baselines: dict[str, float], native: str) -> str:
    """Why raw cosines are not comparable across poolings, phrased from this set's own averages."""
    advice = "compare rankings within one pooling (which sentence comes closest to A), not raw values across poolings."
    if native not in baselines:
        return "Each pooling has its own baseline (last column): " + advice
    base = baselines[native]
    native_label = POOLING_LABELS.get(native, native)
    higher = [n for n, v in baselines.items() if n != native and v > base + 0.01]
    if not higher:
        return (f"This model was trained with {native_label} pooling; on this set no other pooling raises the average "
                f"cosine of two different sentences above its {base:.2f}. Still, " + advice)
    names = _joined([POOLING_LABELS.get(n, n) for n in higher])
    values = _joined([f"{baselines[n]:.2f}" for n in higher])
    return (f"This model was trained with {native_label} pooling. Under {names}, which it was not trained with, "
            f"every cosine is pushed up: two different sentences of this set average {values} there, against "
            f"{base:.2f} under {native_label}. A high raw score under them says little: " + advice)


def sentence_set() -> list[str]:
    raw = st.session_state.get("pool_sentences") or ""
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    return lines[:MAX_SENTENCES]


trace = state.current_trace()
if trace is None:
    st.stop()
info = trace.model
native = trace.native_pooling
T, d = len(trace.tokens), info.d_model
stage_header(
    "6 · Pooling and similarity",
    "The transformer gives one vector **per token**; search needs one vector **per text**. Pooling collapses "
    "the token vectors of the last layer into one: take the first token ([CLS]), average them (mean), take "
    "the largest value in each dimension (max), or average with weights. Which one a model was trained with "
    "matters: its embeddings only mean something under that pooling.",
    f"{T} token vectors × {d} dimensions → 1 vector × {d}  ·  native pooling of this model: "
    f"{POOLING_LABELS.get(native, native)}"
    + "".join(f", then {md_escape(layer)}" for layer in info.dense_layers)
    + (", then L2-normalised" if info.normalizes else "")
    + ("" if info.include_prompt else " (the prompt's tokens are left out of the pooling)"),
)
model_caption(trace)
truncation_notice(trace)
st.session_state.setdefault("pool_sentences", read_lines(EXAMPLE_SETS["The article's example"]))

tab_compare, tab_similarity, tab_sts = st.tabs(["Pooling compared", "Similarity, explained", "STS benchmark"])
second_model = state.compare_model()  # "Compare with…": the similarity matrices and STS for it too
second_id = st.session_state.get(state.COMPARE_KEY) or ""
second_native = second_model.pipeline.pooling_mode if second_model is not None else ""
second_names = compared_poolings(second_model.info) if second_model is not None else []


def second_idf(corpus_texts: tuple[str, ...]):
    """The second model's IDF weights over the same corpus (its own tokenizer)."""
    return idf_for(second_id, st.session_state[state.DEVICE_KEY], corpus_texts)



# ---------------------------------------------------------------- pooling compared
with tab_compare:
    hidden = trace.last_hidden_state
    st.radio(
        "IDF weights come from",
        ["The sentences on this page", "STS-B dev sentences (bundled)", "An uploaded file"],
        key="pool_idf_source",
        horizontal=True,
        help="IDF-weighted mean pooling weighs each token by ln((1+N)/(1+df))+1 over a corpus; [CLS]/[SEP] weigh 0.",
    )
    if st.session_state.get("pool_idf_source") == "An uploaded file":
        st.file_uploader("IDF corpus: a TXT (one text per line) or a CSV/TSV/Parquet (column 'text', else the first)",
                         type=["txt", "csv", "tsv", "parquet"], key="pool_idf_upload")
    try:
        corpus, corpus_label = idf_corpus(trace)
        idf = idf_for(st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY], corpus)
    except ExplorerError as error:
        st.warning(md_escape(str(error)))
        st.stop()
    names = pooling_names(trace)
    compared = compare_poolings(trace, idf, names)

    st.subheader("The last layer's token vectors, and what each pooling makes of them")
    show_figure(token_heatmap(hidden, trace.tokens.tokens, title=f"last hidden state: {T} tokens × {d}", decimals=3),
                key="pool_hidden", name="last-hidden-state")
    show_figure(
        heatmap(compared.rows, y_labels=[label(n, native) for n in names], x_title="dimension", decimals=3,
                title="pooled vectors (before normalisation), one row per pooling", height=90 + 42 * len(names)),
        key="pool_rows", name="pooled-vectors",
    )
    table = pd.DataFrame(
        {
            "pooling": [label(n, native) for n in names],
            "L2 norm before normalising": [compared.norms[n] for n in names],
            f"cosine to {POOLING_LABELS.get(native, native)}": [compared.cosine_to_reference[n] for n in names],
        }
    )
    show_table(table, hide_index=True, width="stretch")
    st.caption(f"The last column compares each pooled vector's direction with the {POOLING_LABELS.get(native, native)} "
               "one: 1 = the same direction, lower = a different vector. The L2 norm is a vector's length before it "
               f"is scaled to 1. IDF weights from {corpus_label}.")

    st.subheader("Max pooling, laid open")
    wins = compared.max_wins
    st.markdown(
        f"Max pooling keeps, for each of the {d} dimensions, the largest value any token has there. "
        "Below: how many dimensions each token *wins*. One token winning many is the 'outlier token' "
        "that makes max pooling unstable."
    )
    show_figure(max_wins_bar(trace.tokens.tokens, wins), key="pool_max_wins", name="max-pooling-wins")
    top = compared.top_winner
    st.caption(f"Most dimensions won by “{md_escape(trace.tokens.tokens[top])}” (position {top}): {int(wins[top])} of {d}, "
               f"against {d / T:.0f} each if the {T} tokens shared the dimensions evenly.")

    st.subheader("L2 normalisation")
    check = compared.normalisation
    norm_name = check.name
    cols = st.columns(3)
    cols[0].metric(f"norm of the {POOLING_LABELS.get(norm_name, norm_name)} vector", f"{check.norm:.4f}")
    cols[1].metric("norm after normalising", f"{check.unit_norm:.4f}")
    cols[2].metric("cosine − dot product after normalising", gap_number(check.difference))
    st.caption(
        f"Check on this text: cosine({POOLING_LABELS.get(norm_name, norm_name)}, {POOLING_LABELS.get(check.other)}) "
        f"= {check.cosine:.6f}; their dot product after normalising = {check.dot:.6f} (the difference: "
        f"{e_notation_meaning(abs(check.difference))}). On unit vectors the two are the same number, "
        "which is why vector databases can use the faster dot product."
    )

# ---------------------------------------------------------------- similarity
with tab_similarity:
    st.markdown("Type sentences, one per line (or load an example set). Every pooling gets its own cosine-similarity matrix, "
                "all on one colour scale (−1 … 1).")
    example = st.selectbox("Example set", ["(keep my sentences)", *EXAMPLE_SETS], key="pool_example")
    if example != "(keep my sentences)" and st.session_state.get("pool_example_loaded") != example:
        st.session_state["pool_sentences"] = read_lines(EXAMPLE_SETS[example])
        st.session_state["pool_example_loaded"] = example
    st.text_area("Sentences, one per line", key="pool_sentences", height=150)
    sentences = sentence_set()
    if len(sentences) < 2:
        st.warning("Type at least two sentences (one per line) to compare them.")
    else:
        if len([s for s in (st.session_state.get("pool_sentences") or "").splitlines() if s.strip()]) > MAX_SENTENCES:
            st.info(f"Only the first {MAX_SENTENCES} sentences are compared here; the Projections page takes large sets.")
        budget = sentence_budgets(st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY], tuple(sentences))
        window_warning(budget, info.model_id)
        try:
            with st.spinner(f"Embedding {len(sentences)} sentences with every pooling…"):
                vectors = embed_set(st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY], tuple(sentences),
                                    tuple(names), idf)
        except ExplorerError as error:
            st.warning(md_escape(str(error)))
            st.stop()
        short = [f"{i + 1}. {text_label(s, 40)}" for i, s in enumerate(sentences)]
        matrices = {label(n, native): cosine_matrix(vectors[n]) for n in names}
        show_table(pd.DataFrame({"#": range(1, len(sentences) + 1), "sentence": [visible(s, show_spaces=False) for s in sentences]}),
                     hide_index=True, width="stretch")
        show_figure(matrix_grid(matrices, short, tick_text=range(1, len(sentences) + 1)), key="pool_matrices",
                    name="cosine-matrices-by-pooling")
        st.caption("Row and column numbers are the # of the sentence list above (row i, column j = cosine of sentences i and j)"
                   + ("; each cell prints its cosine to 2 decimals (hover for 3)." if len(sentences) <= 10
                      else "; hover a cell for its cosine (3 decimals)."))

        if second_model is not None:  # "Compare with…": the same sentences through each model's own pipeline
            st.subheader("The same sentences under both models")
            try:
                with st.spinner(f"Embedding {len(sentences)} sentences with {second_model.info.model_id}…"):
                    own_a = embed_set(st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY],
                                      tuple(sentences), (native,), None if native != "idf" else idf)[native]
                    own_b = embed_set(second_id, st.session_state[state.DEVICE_KEY], tuple(sentences), (second_native,),
                                      second_idf(corpus) if second_native == "idf" else None)[second_native]
            except ExplorerError as error:
                st.warning(md_escape(str(error)))
            else:
                both = model_similarity_comparison(cosine_matrix(own_a), cosine_matrix(own_b))
                show_figure(matrix_grid({f"this model · {label(native, native)}": both.similarity_a,
                                         f"compared · {POOLING_LABELS.get(second_native, second_native)} (native)": both.similarity_b},
                                        short, tick_text=range(1, len(sentences) + 1), columns=2),
                            key="pool_matrices_compared", name="cosine-matrices-both-models")
                st.caption(
                    f"Each model with its own pooling, Dense layers and prompt, L2-normalised ({md_escape(info.model_id)} "
                    f"left, {md_escape(second_model.info.model_id)} right). Raw cosines are not comparable across models "
                    f"(each has its own baseline: {both.baseline_a:.2f} and {both.baseline_b:.2f} for two different "
                    f"sentences here); their order is. The {both.n_pairs:,} pairs are ranked alike with Spearman "
                    f"{signed_number(both.spearman, 2)}" + ("; the pairs whose rank moved most are below." if both.n_pairs > 1 else "."))
                if both.n_pairs > 1:
                    show_table(pd.DataFrame([
                        {"pair": f"{i + 1} ↔ {j + 1}", "cosine (this model)": round(a, 4), "rank (this model)": rank_a,
                         "cosine (compared)": round(b, 4), "rank (compared)": rank_b}
                        for i, j, a, b, rank_a, rank_b in both.most_moved(8)]), hide_index=True, width="stretch")

        st.subheader("Why are these two similar, or not?")
        st.markdown("The cosine score splits exactly into token pairs: for mean pooling each pair (i, j) contributes "
                    "h_i · h_j / (T_a T_b |a| |b|); for max pooling each dimension belongs to the token that won it in each "
                    "sentence. The heatmap below adds up to the score.")
        c1, c2, c3 = st.columns(3)
        # Keyed by the sentence set: a keyed selectbox whose options change keeps showing the old labels
        # (Streamlit 1.67), so a new set gets new pickers.
        set_key = hashlib.sha256("\n".join(sentences).encode("utf-8", "surrogatepass")).hexdigest()[:12]
        first = c1.selectbox("Sentence A", range(len(sentences)), format_func=lambda i: f"{i + 1}. {visible(sentences[i], show_spaces=False)[:60]}",
                             key=f"pool_a_{set_key}")
        second = c2.selectbox("Sentence B", range(len(sentences)), index=min(1, len(sentences) - 1),
                              format_func=lambda i: f"{i + 1}. {visible(sentences[i], show_spaces=False)[:60]}", key=f"pool_b_{set_key}")
        chosen = c3.selectbox("Pooling", names, index=names.index(native) if native in names else 1,
                              format_func=lambda n: label(n, native), key="pool_pair_pooling")
        pair_table = pd.DataFrame({
            "pooling": [label(n, native) for n in names],
            f"cosine of {first + 1} and {second + 1}": [zero_unsigned(round(float(matrices[label(n, native)][first, second]), 4)) for n in names],
            "average cosine of two different sentences of the set": [zero_unsigned(round(off_diagonal_mean(matrices[label(n, native)]), 4))
                                                                      for n in names],
        })
        show_table(pair_table, hide_index=True, width="stretch")
        st.caption(pooling_baseline_caption({n: off_diagonal_mean(matrices[label(n, native)]) for n in names}, native))
        for picked in dict.fromkeys((first, second)):
            window_caption(budget.texts[picked], sentences[picked], f"Sentence {picked + 1}")
        try:
            trace_a = state.cached_trace(st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY], sentences[first])
            trace_b = state.cached_trace(st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY], sentences[second])
        except ExplorerError as error:
            st.warning(md_escape(str(error)))
            st.stop()
        split = pair_contributions(
            trace_a.last_hidden_state, trace_b.last_hidden_state, chosen,
            tokens_a=trace_a.tokens.tokens, tokens_b=trace_b.tokens.tokens,
            weights_a=idf[trace_a.tokens.input_ids], weights_b=idf[trace_b.tokens.input_ids],
        )
        limit = split.largest_share
        figure = heatmap(split.contributions, x_labels=unique_labels(trace_b.tokens.tokens), y_labels=unique_labels(trace_a.tokens.tokens),
                         zmin=-limit, zmax=limit, x_title="sentence B tokens", y_title="sentence A tokens", decimals=5,
                         hover="%{y} × %{x}: %{z:.5f}",
                         title=f"token-pair shares of cos = {signed_number(split.cosine, 4)} "
                               f"(they sum to {signed_number(split.total, 4)})")
        show_figure(figure, key="pool_pairs", name=f"token-pairs-{chosen}-s{first + 1}-s{second + 1}")
        pairs = pd.DataFrame(
            [(visible(split.tokens_a[i]), visible(split.tokens_b[j]), value) for i, j, value in split.top_pairs(8)],
            columns=["token in A", "token in B", "share of the score"],
        )
        show_table(pairs, hide_index=True, width="stretch")
        st.caption(f"Each share is one token pair's part of the cosine: all {split.contributions.size:,} shares add up to "
                   f"{signed_number(split.total, 4)}. The table lists the largest.")

        st.subheader("The article's example, computed live")
        article = [line for line in read_lines(EXAMPLE_SETS["The article's example"]).splitlines()]
        article_vectors = embed_set(st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY], tuple(article),
                                    (native if native in names else "mean",), idf)
        vec = article_vectors[native if native in names else "mean"]
        feline, python = cosine(vec[0], vec[1]), cosine(vec[0], vec[2])
        show_table(
            pd.DataFrame(
                {
                    "pair": ["cat ↔ feline", "cat ↔ Python"],
                    "the article says": ["~0.81", "~0.12"],
                    f"{info.model_id} gives": [f"{feline:.3f}", f"{python:.3f}"],
                }
            ),
            hide_index=True, width="stretch",
        )
        ranking_words = ("feline far above Python" if feline - python > 0.25 else "feline above Python" if feline > python
                         else "here Python at or above feline: this model gets the article's pair wrong")
        st.caption("The article's numbers are illustrations; the ones on the right are this model's real cosines, so they "
                   f"need not match. The ranking ({ranking_words}) is what matters for retrieval.")

# ---------------------------------------------------------------- STS benchmark
with tab_sts:
    st.markdown(
        "The STS benchmark scores sentence pairs by hand from 0 (unrelated) to 5 (same meaning). A pooling is good if its "
        "cosine similarities **rank** the pairs like the humans did: Spearman correlation × 100. All poolings come from "
        "one forward pass over the unique sentences."
    )
    source = st.radio("Data", [*STS_FILES, "Upload a CSV"], key="pool_sts_source", horizontal=True)
    content, name = None, ""
    if source == "Upload a CSV":
        upload = st.file_uploader("STS CSV: sentence1,sentence2,score (0–5), no header", type=["csv", "tsv", "txt"], key="pool_sts_upload")
        if upload is not None:
            content, name = upload.getvalue(), upload.name
    else:
        content, name = STS_FILES[source].read_bytes(), source
        st.caption("STS Benchmark (Cer et al., 2017) via the stsb-multi-mt repository; scores CC BY-SA 4.0, sentences under "
                   "their sources' terms (assets/stsb/LICENSE).")
    n_max = st.number_input("Use the first N pairs (0 = all)", min_value=0, max_value=20_000, value=0, step=100, key="pool_sts_n")
    if content is not None and st.button("Evaluate every pooling", key="pool_sts_run", type="primary"):
        st.session_state["pool_sts_request"] = (hashlib.sha256(content).hexdigest(), name)
    request = st.session_state.get("pool_sts_request")
    if content is not None and request and request[0] == hashlib.sha256(content).hexdigest():
        bar = st.progress(0.0, text="Embedding the unique sentences…")

        def progress(done, total):
            bar.progress(done / total, text=f"Embedding unique sentences: {done:,} / {total:,}")

        result = None
        try:
            result = sts_result(st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY], content,
                                int(n_max) or 10**9, tuple(names), progress=progress)
        except ExplorerError as error:
            bar.empty()
            st.error(f"{md_escape(request[1])}: {error}")
        else:
            bar.empty()
            st.success(f"{result.n_pairs:,} pairs, {result.n_unique_sentences:,} unique sentences, {md_escape(info.model_id)}.")
            scores = pd.DataFrame({"pooling": [label(n, native) for n in result.spearman],
                                   "Spearman × 100": [round(v, 2) for v in result.spearman.values()]})
            show_figure(sts_bars(scores["pooling"], scores["Spearman × 100"]), key="pool_sts_bars",
                        name="sts-spearman-by-pooling")
            show_table(scores, hide_index=True, width="stretch")
            shown = st.selectbox("Scatter for", list(result.spearman), format_func=lambda n: label(n, native), key="pool_sts_scatter",
                                 index=list(result.spearman).index(native) if native in result.spearman else 0)
            show_figure(sts_scatter(result.gold, result.similarities[shown], label(shown, native)), key="pool_sts_points",
                        name=f"sts-scatter-{shown}")
        if second_model is not None:
            st.subheader(f"The same pairs under {md_escape(second_model.info.model_id)}")
            second_bar = st.progress(0.0, text="Embedding the unique sentences with the compared model…")

            def second_progress(done, total):
                second_bar.progress(done / total, text=f"Compared model, unique sentences: {done:,} / {total:,}")

            try:
                second_result = sts_result(second_id, st.session_state[state.DEVICE_KEY], content, int(n_max) or 10**9,
                                           tuple(second_names), progress=second_progress)
            except ExplorerError as error:
                second_bar.empty()
                st.error(f"{md_escape(request[1])}, compared model: {error}")
            else:
                second_bar.empty()
                second_scores = pd.DataFrame({
                    "pooling": [f"{POOLING_LABELS.get(n, n)}" + (" (native)" if n == second_native else "")
                                for n in second_result.spearman],
                    "Spearman × 100": [round(v, 2) for v in second_result.spearman.values()]})
                show_figure(sts_bars(second_scores["pooling"], second_scores["Spearman × 100"]), key="pool_sts_bars_compared",
                            name="sts-spearman-by-pooling-compared")
                show_table(second_scores, hide_index=True, width="stretch")
                if result is not None and native in result.spearman and second_native in second_result.spearman:
                    st.caption(f"Each model with its own pooling: {result.spearman[native]:.2f} for "
                               f"{md_escape(info.model_id)}, {second_result.spearman[second_native]:.2f} for "
                               f"{md_escape(second_model.info.model_id)} ({second_result.n_pairs:,} pairs).")
    elif content is None and source == "Upload a CSV":
        st.info("Upload a file to evaluate it.")
