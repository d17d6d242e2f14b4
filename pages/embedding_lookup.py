"""Stage 2 · Embedding lookup: each token's row of the embedding table, the table's size next to
the article's arithmetic, the rows nearest to a token, and the raw row beside what enters layer 1.
Rows come from the cached trace (no forward pass here); whole-table searches are cached per model."""

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis.colour_scale import robust_limit
from core.analysis.vector_stats import vector_stats
from core.models.family_notes import position_scheme
from core.text.vocabulary import embedding_parts
from ui import lookup_views, state
from ui.common import model_caption, stage_header, truncation_notice
from ui.export import show_figure
from ui.figures import heatmap, rows_own_scale
from ui.labels import e_notation_meaning, md_escape, token_label, visible, zero_unsigned
from ui.tables import show_table


def _within(difference: float) -> str:
    if difference == 0:
        return "exactly"
    decimal = e_notation_meaning(difference).split(" means ")[1]
    return f"to within {difference:.1e} (that is {decimal}" + (": float rounding)" if difference < 1e-4 else ")")


WINDOW = 64            # tokens per heatmap window (keeps the page light at 256 tokens)
ARTICLE_VOCAB, ARTICLE_DIM = 50_000, 1_024




trace = state.current_trace()
info = trace.model if trace is not None else None
if trace is not None:
    n, d = trace.n_tokens, info.d_model
    shapes = f"{n} ids → {n} rows of the {info.vocab_size:,} × {d} table → {n} × {d}"
else:
    shapes = None
stage_header(
    "2 · Embedding lookup",
    "Each token id is a row number. The model keeps one learned vector per vocabulary entry in its "
    "**embedding table**, and this stage simply copies out row *id* for every token: no arithmetic, "
    "a lookup. Those rows were trained with the rest of the model, so tokens used alike ended up with "
    "similar rows: the table is a trained dictionary.",
    shapes,
)
if trace is None:
    st.stop()
model_caption(trace)
truncation_notice(trace)
tokens = trace.tokens
model_id, device = st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY]
row_labels = [f"{i}: {token_label(t)} · id {int(tokens.input_ids[i])}" for i, t in enumerate(tokens.tokens)]

# -- 1 · the rows of this text -----------------------------------------------------------------
st.subheader("Each token's row, as a strip")
view = st.radio("Show", ["raw rows (straight from the table)", "what enters layer 1"], horizontal=True, key="emb_strip_view")
values = trace.embeddings.token_rows if view.startswith("raw") else trace.embeddings.output
start = 0
if n > WINDOW:
    starts = list(range(0, n, WINDOW))
    start = st.select_slider("Tokens", options=starts, key="emb_window_start",
                             format_func=lambda s: f"{s}–{min(s + WINDOW, n) - 1}")
    st.caption(f"{n} tokens: one window of {WINDOW} rows at a time keeps the page light.")
stop = min(start + WINDOW, n)
limit = robust_limit(values)
show_figure(
    heatmap(values[start:stop], y_labels=row_labels[start:stop], x_title="dimension", decimals=3, zmin=-limit, zmax=limit,
            hover="%{y} · dim %{x}: %{z:.3f}", height=min(900, max(240, 18 * (stop - start) + 110))),
    key="emb_strip", name=f"embedding-rows-tokens{start}-{stop - 1}",
)
st.caption(f"Row *t* of this picture is row *id* of the {info.vocab_size:,} × {d} table. Equal tokens have equal raw rows "
           "wherever they stand; "
           + ("this model adds no position vector (" + position_scheme(info.position_kind, short=True)
              + "), so they stay equal in 'what enters layer 1' too. "
              if info.position_kind in ("rope", "relative") else
              "after the position row is added ('what enters layer 1') they no longer do. ")
           + f"Colours saturate at ±{limit:.3f} (99 % of the values are smaller) so a few large dimensions don't wash "
           "out the rest; hover shows each value to 3 decimals.")

# -- 2 · the table -----------------------------------------------------------------------------
st.subheader("The table")


def _table_metrics(table_model_id: str, table_info) -> tuple[int, int, int]:
    """Draw one model's table metrics; (rows, width, parameters) of its table, counted from its loaded weights."""
    table, _ = lookup_views.table_and_norms(table_model_id, device)
    table_rows, table_width = table.shape
    parameters = table_rows * table_width
    metric_cols = st.columns(3)
    metric_cols[0].metric("shape (vocabulary × dimensions)", f"{table_rows:,} × {table_width:,}")
    metric_cols[1].metric("parameters in this table", f"{parameters:,}")
    metric_cols[2].metric("share of the whole model", f"{parameters / table_info.parameter_count:.1%}",
                          help=f"{table_info.parameter_count:,} parameters in all")
    return table_rows, table_width, parameters


second_model = state.compare_model()
if second_model is None:
    rows, width, table_params = _table_metrics(model_id, info)
else:  # "Compare with…": both tables, each counted from its own weights
    side_a, side_b = st.columns(2)
    with side_a:
        st.markdown(f"**This model: {md_escape(info.model_id)}**")
        rows, width, table_params = _table_metrics(model_id, info)
    with side_b:
        st.markdown(f"**Compared: {md_escape(second_model.info.model_id)}**")
        rows_b, width_b, params_b = _table_metrics(st.session_state[state.COMPARE_KEY], second_model.info)
    st.caption(f"The compared model's table has {rows_b / rows:.2f}× the rows and {width_b / width:.2f}× the width: "
               f"{params_b / table_params:.2f}× the parameters. "
               + ("Same vocabulary: row *id* stands for the same token in both, and only the learned numbers differ."
                  if second_model.tokenizer.get_vocab() == state.current_model().tokenizer.get_vocab() else
                  "Different vocabularies: the same id names different tokens in the two tables."))
st.markdown(
    f"The article's example: {ARTICLE_VOCAB:,} × {ARTICLE_DIM:,} = "
    f"**{ARTICLE_VOCAB * ARTICLE_DIM / 1e6:.1f} million** parameters. "
    f"This model, counted from its loaded weights: {rows:,} × {width:,} = **{table_params / 1e6:.2f} million**, "
    f"{table_params / info.parameter_count:.0%} of all its weights. The article also says a row has 768 numbers "
    f"(BERT-base); here a row has {width:,}."
)

# -- 3 · nearest rows ------------------------------------------------------------------------------
st.subheader("The trained dictionary: nearest rows")
if "emb_token" not in st.session_state:
    st.session_state["emb_token"] = min(1, n - 1)  # the first token after [CLS]
state.clamp_choice("emb_token", n, min(1, n - 1))
choice = st.selectbox("Token", range(n), key="emb_token", format_func=lambda i: f"{i}: {visible(tokens.tokens[i])}")
token_id = int(tokens.input_ids[choice])
try:
    found = lookup_views.neighbours(model_id, device, token_id, 10)
    st.markdown(f"Of all {rows:,} rows of the table, the 10 most similar (by cosine) to row {token_id} "
                f"(**{md_escape(tokens.tokens[choice])}**), before any layer has run. A cosine measures how alike "
                "two rows' directions are: 1 = pointing the same way, 0 = unrelated, −1 = opposite.")
    show_table(pd.DataFrame({"rank": range(1, len(found) + 1), "token": [visible(t) for _, t, _ in found],
                               "id": [i for i, _, _ in found], "cosine": [zero_unsigned(round(c, 4)) for _, _, c in found]}),
                 hide_index=True, width="stretch")
    if tokens.special_mask[choice]:
        st.caption("Special tokens sit apart: their rows were trained for a role, not a meaning, "
                   "so their 'neighbours' are mostly noise.")
except Exception as error:  # noqa: BLE001 - a page never shows a stack trace
    st.warning(f"Could not search the table: {type(error).__name__}: {md_escape(str(error)[:200])}")

# -- 4 · raw row vs what enters layer 1 ---------------------------------------------------------
st.subheader("The raw row, and what actually enters layer 1")
parts = embedding_parts(state.current_model(), trace.embeddings, choice)
parts_stats = vector_stats(parts.vectors)
stats = pd.DataFrame({
    "vector": list(parts.names),
    "L2 norm": np.round(parts_stats.norms, 3),
    "mean": zero_unsigned(np.round(parts_stats.means, 4)),
    "std": np.round(parts_stats.stds, 4),
})
parts_limits = [robust_limit(vector) for vector in parts.vectors]
show_figure(rows_own_scale(parts.vectors, list(parts.names), parts_limits), key="emb_parts",
            name=f"embedding-parts-token{choice}")
st.caption(
    "Each row has its own colour scale, ± the value in its label (99 % of that row's values are smaller; hover shows "
    f"each value to 3 decimals). The scales run from ±{min(parts_limits):.3g} to ±{max(parts_limits):.3g}: one shared scale "
    "would wash the small rows out to white. The table's L2 norms (each vector's length) compare the rows' sizes."
)
show_table(stats, hide_index=True, width="stretch")
if info.position_kind in ("rope", "relative"):
    scale = trace.embeddings.token_scale
    st.caption(
        "The article adds a position vector to the row. This model adds nothing here: its position information is "
        + ("a rotation of queries and keys inside every attention layer (RoPE)" if info.position_kind == "rope" else
           "a learned bias on the attention scores by offset (relative position buckets)")
        + ", so the raw row enters layer 1 "
        + (f"after only a normalisation ({parts.norm_module}; recomputed from the model's own weights it matches "
           f"{_within(parts.max_abs_difference)})." if parts.norm_module else
           f"multiplied by {scale:.4g} (√{d}; recomputed it matches {_within(parts.max_abs_difference)})."
           if scale is not None else "as it is.")
    )
elif parts.norm_module:
    st.caption(
        f"The article adds a position vector to the row. This model ({info.family}) adds its learned position row"
        + (" and a token-type (segment) row" if trace.embeddings.token_type_rows is not None else "")
        + f", then normalises the sum with LayerNorm ({parts.norm_module}). Recomputed from the model's own LayerNorm "
        f"weights, the last row matches what the model fed to layer 1 {_within(parts.max_abs_difference)}."
    )
else:
    st.caption(f"This model adds its learned position row and feeds the sum to layer 1 without normalising it "
               f"(the recomputed sum matches {_within(parts.max_abs_difference)}).")
