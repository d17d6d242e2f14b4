"""Sentence sets as geometry: embed, project to 2-D / 3-D, colour, and find neighbours."""

import numpy as np
import pandas as pd
import streamlit as st

from core import ExplorerError
from core.text.datasets import (
    MAX_MAP_ROWS, DatasetError, check_vectors, map_points, pair_vectors_with_texts, read_table, read_vectors, sentence_set,
)
from core.embed.projection import POINT_CAPS, ProjectionParams, kmeans_labels, nearest_neighbours, umap_compiled
from core.analysis.model_comparison import NEIGHBOURS, align_points
from core.analysis.similarity import occurrence_cosines, repeated_tokens, summarise_occurrences
from core.analysis.token_view import MIN_POINTS, token_view
from ui import callbacks, startup, state
from ui.common import stage_header, window_caption, window_warning
from ui.export import show_figure
from ui.hosting import host_settings, model_access
from ui.labels import md_escape, visible, zero_unsigned
from ui.projection_views import COMPARE_VIEWS, compared_projection, drawn_sample, projection_scatter, token_scatter
from ui.projection_state import (
    EXAMPLE_SETS, MAX_EMBED, MAX_TYPED, budgets, embeddings, example_frame, map_table, neighbour_comparison, projection,
    scaled_projection, server_embedding,
)
from ui.labels import text_label
from ui.tables import show_table
from ui.large_map import large_map, selected_table
from ui.progress_cache import _key_part, digest

DEFAULT_TOKENS_TEXT = "I sat on the bank of the river.\nThe bank approved my loan.\nShe deposited cash at the bank.\nWe fished from the grassy bank."


def _default_token(repeated: dict[str, list[tuple[int, int]]]) -> str:
    """The repeated word to show first: in the most sentences, a word rather than punctuation, the longest."""
    return max(repeated, key=lambda t: (len({s for s, _ in repeated[t]}), t.isalpha(), len(t), t))


def same_token_table(hidden_of: dict, tokens_of: dict, special_of: dict, layer: int) -> None:
    """Cosines, per layer, between the occurrences of one token string in different sentences."""
    numbers = sorted(hidden_of)
    repeated = repeated_tokens([tokens_of[n] for n in numbers], [special_of[n] for n in numbers])
    if not repeated:
        st.caption("No token occurs in two different sentences: repeat a word (like *bank*) to compare its meanings.")
        return
    choices = sorted(repeated, key=lambda t: (-len({s for s, _ in repeated[t]}), not t.isalpha(), -len(t), t))
    if st.session_state.get("proj_same_token") not in choices:
        st.session_state["proj_same_token"] = _default_token(repeated)
    token = st.selectbox("Same token in different sentences", choices, key="proj_same_token", format_func=visible)
    pairs = occurrence_cosines([hidden_of[n] for n in numbers], repeated[token], token)
    layers = pairs[0].cosines.shape[0]

    twice = {s for s, _ in repeated[token] if sum(1 for other, _ in repeated[token] if other == s) > 1}

    def place(occurrence):
        sentence, position = occurrence
        return f"{numbers[sentence] + 1}" + (f" (position {position})" if sentence in twice else "")

    table = pd.DataFrame({"sentences": [f"{place(p.first)} ↔ {place(p.second)}" for p in pairs]})
    for index in range(layers):
        table[f"layer {index}" + (" (shown)" if index == layer else "")] = [zero_unsigned(round(float(p.cosines[index]), 3)) for p in pairs]
    show_table(table, hide_index=True, width="stretch")
    summary = summarise_occurrences(pairs, layer)
    word = f"“{md_escape(visible(token))}”"

    def spread(low, high):
        return f"{low:.3f}" if len(pairs) == 1 else f"{low:.3f}–{high:.3f}"

    text = (f"Cosine between occurrences of {word} in different sentences ({len(pairs)} pair{'s' * (len(pairs) > 1)}). "
            f"Layer 0: {spread(summary.start_low, summary.start_high)} (same embedding row"
            + (", different positions)." if summary.start_low < 0.99995 else ")."))
    if layer == 0:
        st.caption(text + " Move the layer slider to see what context does to them.")
        return
    text += f" Layer {layer}: {spread(summary.low, summary.high)}"
    if len(pairs) > 1:
        high, low = pairs[summary.closest], pairs[summary.farthest]
        text += (f"; closest: sentences {numbers[high.first[0]] + 1} and {numbers[high.second[0]] + 1} ({summary.high:.3f}), "
                 f"farthest: {numbers[low.first[0]] + 1} and {numbers[low.second[0]] + 1} ({summary.low:.3f})")
    change = summary.mean_change
    if abs(change) < 0.005:
        text += ". Context barely changed them."
    else:
        text += (f". On average the pairs moved {'apart' if change < 0 else 'closer'} by {abs(change):.3f}: "
                 "check whether the closest pairs share a meaning.")
    st.caption(text)


MAP_SOURCE = "Upload a map (x, y)"
SERVER_SOURCE = "Embedded on this server"
SOURCES = ["Example set", "Typed, one per line", "Upload a table", "Upload vectors", MAP_SOURCE]


def server_input():
    """Vectors that `python -m core embed` (either engine) wrote on this machine: too large to upload."""
    path = st.text_input("Output of `python -m core embed` on this machine: a .parquet file or a folder with manifest.json",
                         key="proj_server_path", placeholder="/data/corpus-vectors")
    if not path.strip():
        st.info("Embed a corpus with `python -m core embed --input FILE --out FOLDER [--engine ray]`, then give the folder here.")
        return None
    try:
        output = server_embedding(path.strip())
        vectors = check_vectors(output.vectors, max_rows=MAX_MAP_ROWS)
    except FileNotFoundError:
        st.error(f"Nothing at {md_escape(path.strip())}.")
        return None
    except (DatasetError, ExplorerError, OSError) as error:
        st.error(md_escape(str(error)))
        return None
    from core.text.datasets import SentenceSet

    model_note = output.manifest.get("model_id") or output.manifest.get("model")
    st.caption(f"{len(vectors):,} vectors of {vectors.shape[1]} dimensions" + (f", embedded by {md_escape(str(model_note))}" if model_note else ""))
    return SentenceSet(tuple(output.texts), output.labels, 0, vectors)


def load_input(source: str):
    """The session's sentence set from the chosen source, or None after saying what is wrong."""
    try:
        if source == "Example set":
            name = st.selectbox("Example set", list(EXAMPLE_SETS), key="proj_example")
            frame = example_frame(str(EXAMPLE_SETS[name]))
            return sentence_set(frame, "text", "label")
        if source == "Typed, one per line":
            st.text_area("Sentences, one per line", key="proj_typed", height=160,
                         value=st.session_state.get("proj_typed", "A cat sleeps on the sofa\nA kitten naps on the couch\n"
                                                    "Interest rates rose again\nThe central bank tightened policy"))
            lines = [line.strip() for line in (st.session_state.get("proj_typed") or "").splitlines() if line.strip()]
            if len(lines) > MAX_TYPED:
                st.info(f"Only the first {MAX_TYPED:,} lines are used; upload a file for more.")
            from core.text.datasets import SentenceSet

            return SentenceSet(tuple(lines[:MAX_TYPED]), None)
        upload = st.file_uploader("A CSV, TSV, TXT or Parquet table" if source == "Upload a table" else
                                  "Texts as a table (CSV, TSV, TXT, Parquet; a Parquet from `python -m core embed` carries its vectors)",
                                  type=["csv", "tsv", "txt", "parquet"], key="proj_table")
        if upload is None:
            st.info("Upload a file to project it.")
            return None
        frame = read_table(upload.getvalue(), upload.name)
        columns = list(frame.columns)
        default_text = columns.index("text") if "text" in columns else 0
        c1, c2 = st.columns(2)
        text_column = c1.selectbox("Text column", columns, index=default_text, key="proj_text_col")
        label_choices = ["(none)"] + [c for c in columns if c not in (text_column, "vector")]
        label_column = c2.selectbox("Label column", label_choices, key="proj_label_col")
        chosen = sentence_set(frame, text_column, None if label_column == "(none)" else label_column)
        if source == "Upload vectors" and chosen.vectors is None:
            vectors_file = st.file_uploader("Vectors (.npy, one row per text)", type=["npy"], key="proj_vectors")
            if vectors_file is None:
                st.info("Upload the .npy of vectors that goes with these texts, or a Parquet with a 'vector' column.")
                return None
            chosen = pair_vectors_with_texts(read_vectors(vectors_file.getvalue(), vectors_file.name), chosen)
        if chosen.dropped_empty:
            st.caption(f"{chosen.dropped_empty:,} empty rows skipped.")
        return chosen
    except (DatasetError, ExplorerError) as error:
        st.error(md_escape(str(error)))
        return None


def token_section() -> None:
    """Every token of a few sentences at one layer: one word's meanings side by side."""
    st.subheader("Token-level view: one word, several meanings")
    st.markdown("Every token of a few sentences at one layer, projected with PCA. At layer 0 a word's vector is its embedding "
                "row plus its position, the same in every sentence up to that position; attention then mixes in context. "
                "Does *bank* by a river move away from *bank* with money? PCA keeps only two directions, so the table under "
                "the chart gives the cosines in the full space.")
    token_text = st.text_area("A few sentences, one per line (at most 8)", value=DEFAULT_TOKENS_TEXT, key="proj_tokens_text", height=120)
    token_layer = st.slider("Layer", 0, info.n_layers, info.n_layers, key="proj_token_layer")
    all_lines = [line.strip() for line in token_text.splitlines() if line.strip()]
    lines = all_lines[:8]
    if len(all_lines) > 8:
        st.info(f"Only the first 8 of your {len(all_lines):,} lines are drawn: every token of each one becomes a point.")
    hidden_of, tokens_of, special_of = {}, {}, {}
    if lines:
        line_budget = budgets(st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY], tuple(lines))
        for number, line in enumerate(lines):
            window_caption(line_budget.texts[number], line, f"Line {number + 1}")
    for number, line in enumerate(lines):
        try:
            trace = state.cached_trace(st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY], line)
        except ExplorerError as error:
            st.warning(f"Line {number + 1}: {md_escape(str(error))}")
            continue
        hidden_of[number], tokens_of[number], special_of[number] = trace.hidden_states, trace.tokens.tokens, trace.tokens.special_mask
    view = token_view(hidden_of, tokens_of, special_of, token_layer)
    if view.count >= MIN_POINTS:
        show_figure(token_scatter(view, lines), key="proj_tokens_plot", name=f"token-projection-layer{token_layer}")
        same_token_table(hidden_of, tokens_of, special_of, token_layer)
    elif lines:
        st.warning("Type sentences with at least 3 tokens in all.")


def draw_large_map(points, texts, labels, *, title: str, legend_title: str, key: str) -> None:
    """A map of more points than the plain scatter draws well: WebGL with a density layer (ui.large_map);
    a box or lasso selection lists its passages in full and opens one in the stage pages."""
    built = session_map(points, texts, labels, title=title, legend_title=legend_title)
    event = show_figure(built.figure, key=key, name="map", on_select="rerun", selection_mode=("box", "lasso", "points"))
    limit_mb = built.message_limit_bytes / 2**20
    st.caption(f"{len(points):,} points, drawn by WebGL over a density layer (grey: log of the points per cell). "
               f"The chart's data weighs {built.payload_bytes / 1e6:,.1f} MB, {built.payload_bytes / built.message_limit_bytes:.0%} "
               f"of this server's {limit_mb:,.0f} MB message limit; hover texts keep their first {built.hover_chars} "
               "characters. Drag to pan, scroll to zoom; pick *Box select* or *Lasso select* in the chart's toolbar "
               "to list passages in full.")
    picked = event.selection.points if event and event.selection else []
    rows = built.rows_of(picked) if picked else np.zeros(0, dtype=np.int64)
    if len(rows) == 0:
        return
    st.subheader(f"{len(rows):,} passages selected")
    table = selected_table(rows, texts, labels)
    table["passage"] = [visible(t, show_spaces=False) for t in table["passage"]]
    show_table(table, hide_index=True, width="stretch", key=f"{key}_selected")
    if len(rows) > len(table):
        st.caption(f"The first {len(table):,} of {len(rows):,}, in row order.")
    chosen_row = st.selectbox("Open one in the stage pages", table["#"].tolist(), key=f"{key}_open_pick",
                              format_func=lambda number: f"{number}. {visible(texts[number - 1], show_spaces=False)[:90]}")
    st.button("Open this passage in the stage pages", key=f"{key}_open", on_click=callbacks.set_values,
              args=({state.TEXT_KEY: texts[int(chosen_row) - 1], "proj_go_home": True},))


def session_map(points, texts, labels, *, title: str, legend_title: str):
    """This session's large map figure, built once per content (a million points take seconds to build). Kept per
    session, not shared: drawing it adapts the figure to the session (presentation mode's fonts)."""
    key = (_key_part(np.asarray(points)), digest(texts), None if labels is None else digest(labels), title)
    kept = st.session_state.get("_proj_large_map")
    if kept is None or kept[0] != key:
        with st.spinner(f"Building the map of {len(points):,} points…"):
            built = large_map(points, None if labels is None else np.asarray(labels, dtype=object), texts, title=title,
                              legend_title=legend_title)
        kept = (key, built)
        st.session_state["_proj_large_map"] = kept
    return kept[1]


def map_section() -> None:
    """Precomputed 2-D points with their texts (and labels): drawn as they are, nothing embedded."""
    upload = st.file_uploader("A Parquet, CSV or TSV table with numeric columns x and y, a text column and "
                              "optionally a label column", type=["parquet", "csv", "tsv"], key="proj_map_file")
    if upload is None:
        st.info(f"Upload a table of up to {MAX_MAP_ROWS:,} points to draw it: the coordinates of any projection "
                "(yours, or this page's CSV export), one row per passage.")
        return
    try:
        frame = map_table(upload.getvalue(), upload.name)
        columns = [c for c in frame.columns if c not in ("x", "y")]
        if not columns:
            raise DatasetError("The table has no text column besides x and y.")
        c1, c2 = st.columns(2)
        text_column = c1.selectbox("Text column", columns, index=columns.index("text") if "text" in columns else 0,
                                   key="proj_map_text")
        label_choices = ["(none)"] + [c for c in columns if c != text_column]
        label_column = c2.selectbox("Label column", label_choices, key="proj_map_label",
                                    index=label_choices.index("label") if "label" in label_choices else 0)
        points = map_points(frame)
    except (DatasetError, ExplorerError) as error:
        st.error(md_escape(str(error)))
        return
    texts = tuple(frame[text_column].astype(str).tolist())
    labels = None if label_column == "(none)" else tuple(frame[label_column].astype(str).tolist())
    draw_large_map(points, texts, labels, title=f"{len(points):,} points · precomputed map",
                   legend_title="label" if labels else "", key="proj_map")


stage_header(
    "Projections: meaning as geometry",
    "Each sentence becomes one vector of a few hundred numbers. Squeeze those vectors down to 2 or 3 dimensions "
    "and sentences about the same thing land near each other. UMAP keeps neighbourhoods, PCA keeps the largest "
    "directions of variance, t-SNE keeps local clusters. Distances between far-apart clusters mean little in UMAP "
    "and t-SNE; neighbours do.",
)
if st.session_state.pop("proj_go_home", False):
    st.switch_page("pages/home.py")
model = state.current_model()
if model is None:
    st.stop()
info = model.info
second_model = state.compare_model()  # "Compare with…": the same sentences under a second model (None: none)
# Reading the server's disk is for someone at the server's own machine (the rule of local model folders).
sources = SOURCES + ([SERVER_SOURCE] if model_access().folders else [])
source = st.radio("Sentences from", sources, key="proj_source", horizontal=True)
if source == MAP_SOURCE:
    map_section()
    token_section()
    st.stop()
chosen = server_input() if source == SERVER_SOURCE else load_input(source)
if chosen is None or len(chosen.texts) < 3:
    if chosen is not None:
        st.warning("A projection needs at least 3 sentences.")
    token_section()
    st.stop()
texts = chosen.texts
n = len(texts)

c1, c2, c3, c4 = st.columns(4)
method = c1.selectbox("Method", ["umap", "pca", "tsne"], format_func=str.upper, key="proj_method")
dims = c2.radio("Dimensions", [2, 3], horizontal=True, key="proj_dims")
colour = c3.selectbox("Colour by", (["label"] if chosen.labels else []) + ["k-means cluster"], key="proj_colour")
if chosen.vectors is None:
    layer = c4.slider("Layer (mean-pooled)", 0, info.n_layers, info.n_layers, key="proj_layer",
                      help=f"0 = the embedding output; {info.n_layers} = the last layer, what the model returns.")
else:
    layer = None
    c4.caption(f"{chosen.vectors.shape[1]}-d precomputed vectors")
with st.expander("Method parameters"):
    p1, p2, p3, p4 = st.columns(4)
    neighbours = p1.slider("UMAP neighbours", 2, 100, 15, key="proj_neighbors")
    min_dist = p2.slider("UMAP min_dist", 0.0, 0.99, 0.1, key="proj_min_dist")
    metric = p3.selectbox("Metric", ["cosine", "euclidean"], key="proj_metric")
    perplexity = p4.slider("t-SNE perplexity", 2, 100, 30, key="proj_perplexity")
    k = st.slider("k-means clusters", 2, 30, 5, key="proj_k")
if second_model is not None:
    second_info = second_model.info
    d1, d2 = st.columns(2)
    state.clamp_choice("proj_compare_layer", second_info.n_layers + 1, default=second_info.n_layers)
    second_layer = d1.slider("Layer of the compared model (mean-pooled)", 0, second_info.n_layers, key="proj_compare_layer",
                             help=f"0 = its embedding output; {second_info.n_layers} = its last layer, what it returns.")
    compare_view = d2.radio("The two maps", COMPARE_VIEWS, horizontal=True, key="proj_compare_view",
                            help="Side by side on the same axes, or on one map with a line from each sentence's place "
                                 "under this model to its place under the compared one.")

# ----------------------------------------------------------------------- vectors
budget = None   # token budgets of the texts the page embeds itself
if chosen.vectors is not None:
    vectors = check_vectors(chosen.vectors, max_rows=MAX_MAP_ROWS)
else:
    embed_cap = min(MAX_EMBED, host_settings().max_sentences)  # the host may set a lower cap for a class
    if n > embed_cap:
        st.error(f"{n:,} sentences: the page embeds at most {embed_cap:,}. Embed them with "
                 "`python -m core embed --input FILE --text-column NAME --out vectors.parquet` and upload the Parquet.")
        st.stop()
    budget = budgets(st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY], texts)
    window_warning(budget, info.model_id)
    key = (st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY], texts, None if layer == info.n_layers else layer)
    if n > 500 and st.session_state.get("proj_embed_ok") != hash(key):
        st.info(f"{n:,} sentences to embed with {md_escape(info.model_id)} (about {n / 300:.0f} s on a 2-core CPU).")
        if st.button("Embed them", type="primary", key="proj_embed"):
            st.session_state["proj_embed_ok"] = hash(key)
            st.rerun()
        st.stop()
    bar = st.progress(0.0, text=f"Embedding {n:,} sentences…")
    stop_slot = st.empty()
    stop_slot.button("Stop", key="proj_stop", help="Stops the embedding; what you typed or uploaded stays.",
                     on_click=callbacks.forget, args=("proj_embed_ok",))

    def progress(done, total):
        bar.progress(done / total, text=f"Embedding sentences: {done:,} / {total:,}")

    try:
        vectors = embeddings(*key, progress=progress)
    except ExplorerError as error:
        st.error(md_escape(str(error)))
        st.stop()
    bar.empty()
    stop_slot.empty()

params = ProjectionParams(method=method, dims=int(dims), n_neighbors=neighbours, min_dist=float(min_dist), metric=metric,
                          perplexity=float(perplexity))
scaled = None
if len(vectors) > POINT_CAPS[method]:
    # More points than the method fits here: fit a sample, place the rest (PCA in blocks fits them all).
    scale_bar = st.progress(0.0, text=f"Projecting {len(vectors):,} points with {method.upper()}…")
    scale_stop = st.empty()
    scale_stop.button("Stop", key="proj_scale_stop", help="Stops the projection; what you uploaded stays.")

    def scale_progress(step, done, total):
        scale_bar.progress(done / total, text=f"{method.upper()}: {step} · {done:,} / {total:,}")

    try:
        scaled = scaled_projection(vectors, params, progress=scale_progress)
    except ExplorerError as error:
        st.error(md_escape(str(error)))
        st.stop()
    scale_bar.empty()
    scale_stop.empty()
    points = scaled.points
else:
    compiling = method == "umap" and not umap_compiled()
    message = f"Projecting {len(vectors):,} points with {method.upper()}…"
    if compiling and startup.projections_stage() == "compiling UMAP":
        message += " The server's start-up is still compiling UMAP's code (once per server); this waits for it."
    elif compiling:
        message += (" This is the server's first UMAP: numba compiles its code first (once per server; 10-60 s on a "
                    "2-core machine, less when `python -m core warm` ran before).")
    try:
        with st.spinner(message):
            points = projection(vectors, params)
    except ExplorerError as error:
        st.error(md_escape(str(error)))
        st.stop()
if scaled is not None:
    recall = scaled.recall
    fitted = "every point" if len(scaled.sample) == len(vectors) else f"a sample of {len(scaled.sample):,} points"
    r1, r2 = st.columns(2)
    r1.metric("kept neighbours, fitted points", f"{recall.get('sample', float('nan')):.1%}",
              help="Of each point's 10 nearest neighbours in the full vector space, the share that are still among its "
                   "10 nearest on the map (1,000 points checked, neighbours among all points). 100 % = the map keeps "
                   "every neighbourhood.")
    if "placed" in recall:
        r2.metric("kept neighbours, placed points", f"{recall['placed']:.1%}",
                  help="The same for points outside the sample, which were placed rather than fitted.")
    st.caption(f"{method.upper()} can fit at most {POINT_CAPS[method]:,} points here; it was fitted on {fitted}"
               + ("" if len(scaled.sample) == len(vectors) else f", and every other point placed by {scaled.placed_by}")
               + ". What that costs is the share of neighbours kept above.")

if colour == "label":
    groups = np.asarray(chosen.labels)
else:
    groups = kmeans_labels(vectors, k).astype(str)
    groups = np.asarray([f"cluster {g}" for g in groups])

# ----------------------------------------------------------------------- the compared model
def compared_vectors():
    """The compared model's vectors of the same sentences (its own pipeline, or mean pooling of the chosen
    layer), or None after saying why not."""
    compare_id, device = st.session_state[state.COMPARE_KEY], st.session_state[state.DEVICE_KEY]
    embed_cap = min(MAX_EMBED, host_settings().max_sentences)
    if n > embed_cap:
        st.info(f"{n:,} sentences: the compared model embeds at most {embed_cap:,} on this page.")
        return None
    second_budget = budgets(compare_id, device, texts)
    window_warning(second_budget, second_info.model_id)
    second_key = (compare_id, device, texts, None if second_layer == second_info.n_layers else second_layer)
    if n > 500 and st.session_state.get("proj_compare_embed_ok") != hash(second_key):
        st.info(f"{n:,} sentences to embed with the compared model, {md_escape(second_info.model_id)} "
                f"(about {n / 300:.0f} s on a 2-core CPU). The map below shows this model alone until then.")
        st.button("Embed them with the compared model", key="proj_compare_embed", on_click=callbacks.set_values,
                  args=({"proj_compare_embed_ok": hash(second_key)},))
        return None
    second_bar = st.progress(0.0, text=f"Embedding {n:,} sentences with the compared model…")

    def second_progress(done, total):
        second_bar.progress(done / total, text=f"Embedding sentences with the compared model: {done:,} / {total:,}")

    try:
        return embeddings(*second_key, progress=second_progress)
    except ExplorerError as error:
        st.warning(f"The compared model, {md_escape(second_info.model_id)}: {md_escape(str(error))}")
        return None
    finally:
        second_bar.empty()


alignment = overlap = None
if second_model is not None:
    second_vectors = compared_vectors()
    if second_vectors is not None:
        try:
            with st.spinner(f"Projecting the compared model's {n:,} points with {method.upper()}…"):
                second_points = projection(second_vectors, params)
            alignment = align_points(points, second_points)
            with st.spinner("Finding each sentence's 10 nearest neighbours under both models…"):
                overlap = neighbour_comparison(vectors, second_vectors)
        except ExplorerError as error:
            st.warning(f"The compared model, {md_escape(second_info.model_id)}: {md_escape(str(error))}")
            alignment = overlap = None

# ----------------------------------------------------------------------- figure
map_title = (f"{len(points):,} points · {method.upper()} {dims}-D"
             + ("" if layer is None else f" · layer {layer} of {info.n_layers}"))
LARGE_MAP = 20_000   # above this many points (2-D, one model) the page draws the WebGL map with density
if alignment is None and int(dims) == 2 and len(points) > LARGE_MAP:
    draw_large_map(points, texts, None if colour != "label" else tuple(map(str, groups)), title=map_title,
                   legend_title=colour, key="proj_large")
    token_section()
    st.stop()
drawn_rows = None   # every point; a 3-D scatter of more than LARGE_MAP draws a seeded sample of them
if alignment is None and len(points) > LARGE_MAP:
    drawn_rows = drawn_sample(len(points), LARGE_MAP)
    map_title += f" · {LARGE_MAP:,} of them drawn"
if alignment is None:
    figure = projection_scatter(points, groups, texts, dims=dims, legend_title=colour, title=map_title, rows=drawn_rows)
    figure_name = f"projection-{method}-{dims}d" + ("" if layer is None else f"-layer{layer}")
else:
    names = (text_label(info.model_id, 50) + ("" if layer is None else f" · layer {layer}"),
             text_label(second_info.model_id, 50) + f" · layer {second_layer}")
    figure = compared_projection(points, alignment.aligned, groups, texts, dims=dims, legend_title=colour,
                                 title=map_title, names=names, view=compare_view)
    figure_name = f"projection-{method}-{dims}d-two-models"
event = show_figure(figure, key="proj_plot", name=figure_name, on_select="rerun", selection_mode="points")
if drawn_rows is not None:
    st.caption(f"A 3-D scatter stays smooth in a browser up to about {LARGE_MAP:,} points, so this one draws a uniform "
               f"sample of {LARGE_MAP:,} of the {len(points):,} (the same on every rerun). The projection itself is of "
               "every point, and neighbours below are searched among all of them. Choose 2-D to draw every point, "
               "with density.")
if alignment is not None:
    st.caption(
        f"Each model's own {method.upper()} of its own vectors, with the same settings; the compared model's map is "
        f"then rotated{' and mirrored' if alignment.reflected else ''}, scaled (×{alignment.scale:.3g}) and shifted onto "
        f"this model's by orthogonal Procrustes (on centred coordinates), because {method.upper()} fixes no orientation. "
        f"What is left over, the Procrustes disparity, is {alignment.disparity:.3f} of this map's spread (0 = the same "
        "map turned; 1 = nothing in common). Colours and hover texts are the same on both"
        + (" (k-means clusters of this model's vectors)." if colour != "label" else ".")
        + " Select a point on either map to list its neighbours below.")

# ----------------------------------------------------------------------- neighbours
selected = None
try:
    picked = event.selection.points if event and event.selection else []
    if picked:
        selected = int(picked[0]["customdata"] if "customdata" in picked[0] else picked[0]["point_index"])
except (AttributeError, KeyError, TypeError, ValueError):
    selected = None
if selected is None:
    selected = st.selectbox("Or choose a sentence", range(n) if drawn_rows is None else drawn_rows.tolist(), format_func=lambda i: f"{i + 1}. {visible(texts[i], show_spaces=False)[:90]}",
                            key="proj_pick")
st.subheader("Nearest neighbours (cosine, in the full vector space)")
st.markdown(f"**{md_escape(texts[selected][:200])}**")
if budget is not None:
    window_caption(budget.texts[selected], texts[selected], f"Sentence {selected + 1}")
if overlap is None:
    rows = [(visible(texts[i], show_spaces=False), zero_unsigned(round(score, 4))) for i, score in nearest_neighbours(vectors, selected, 10)]
    show_table(pd.DataFrame(rows, columns=["sentence", "cosine"]), hide_index=True, width="stretch")
else:
    def neighbour_table(near, cosines, other) -> pd.DataFrame:
        return pd.DataFrame({"#": [int(i) + 1 for i in near], "sentence": [visible(texts[i], show_spaces=False) for i in near],
                             "cosine": zero_unsigned(np.round(cosines.astype(float), 4)),
                             "also under the other": ["yes" if i in other else "" for i in near]})

    near_a, near_b = overlap.neighbours_a[selected], overlap.neighbours_b[selected]
    n1, n2 = st.columns(2)
    n1.markdown(f"Under this model, {md_escape(info.model_id)}")
    show_table(neighbour_table(near_a, overlap.cosines_a[selected], set(near_b.tolist())), slot=n1, hide_index=True,
                 width="stretch", key="proj_neighbours_a")
    n2.markdown(f"Under the compared model, {md_escape(second_info.model_id)}")
    show_table(neighbour_table(near_b, overlap.cosines_b[selected], set(near_a.tolist())), slot=n2, hide_index=True,
                 width="stretch", key="proj_neighbours_b")
    st.caption(f"Sentence {selected + 1} keeps {int(overlap.shared[selected])} of its {overlap.k} nearest neighbours "
               f"from one model to the other: Jaccard {float(overlap.jaccard[selected]):.2f}. Cosines are each model's "
               "own and do not compare across models; the neighbours do.")

if overlap is not None and overlap.k == n - 1:  # every other sentence is a neighbour: nothing to compare yet
    st.info(f"With {n} sentences, each one's {overlap.k} nearest neighbours are all the others under both models: "
            f"comparing neighbourhoods takes at least {NEIGHBOURS + 2} sentences ({NEIGHBOURS} neighbours each, "
            "chosen from more than that many others).")
elif overlap is not None:
    st.subheader("Neighbourhoods under both models")
    unchanged = overlap.unchanged
    j1, j2 = st.columns(2)
    j1.metric(f"mean Jaccard of the {overlap.k} nearest neighbours", f"{overlap.mean_jaccard:.3f}",
              help="For each sentence, the share of its neighbours the two models agree on: shared ÷ in either list "
                   "(1 = the same neighbours, 0 = none in common), averaged over the sentences.")
    j2.metric("sentences with the same neighbours under both", f"{unchanged:,} of {n:,}")
    st.caption(f"Neighbours by cosine in each model's full vector space (not on the maps), the sentence itself left out; "
               "equal cosines (repeated sentences) go to the lower sentence number. The sentences whose neighbourhoods "
               "changed most, lowest Jaccard first:")

    def neighbour_list(numbers) -> str:
        return " · ".join(f"{i + 1}. {visible(texts[i], show_spaces=False)[:50]}" for i in numbers) or "(none)"

    changed = overlap.most_changed(10)
    show_table(pd.DataFrame({
        "#": [i + 1 for i in changed],
        "sentence": [visible(texts[i], show_spaces=False)[:120] for i in changed],
        "Jaccard": [round(float(overlap.jaccard[i]), 3) for i in changed],
        "shared": [f"{int(overlap.shared[i])} of {overlap.k}" for i in changed],
        "neighbours only under this model": [neighbour_list(overlap.only_in_a(i)) for i in changed],
        "neighbours only under the compared model": [neighbour_list(overlap.only_in_b(i)) for i in changed],
    }), hide_index=True, width="stretch", key="proj_changed")


st.button("Open this sentence in the stage pages", key="proj_open", on_click=callbacks.set_values,
          args=({state.TEXT_KEY: texts[selected], "proj_go_home": True},))

token_section()
