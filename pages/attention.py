"""Stage 4 · Attention: every head of a layer, one head enlarged and as lines, an overview of
all heads, the formula worked for one query token, and a head's queries and keys in one picture.
Every number comes from the cached trace of the current text (no second forward pass)."""

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis.attention_stats import (
    block_average,
    head_overview,
    hidden_share,
    masked_map,
    output_projection_check,
    query_key_projection,
    share_outside,
    shown_attention,
    special_columns,
    strongest_links,
    suggested_heads,
    worked_attention,
)
from core.analysis.head_search import PATTERNS, find_token, heads_by_link, heads_by_pattern
from ui import attention_views as views
from ui import callbacks
from ui import state
from ui.common import model_caption, stage_header, truncation_notice
from ui.export import PROJECTOR_ALL_TICKS, show_figure
from ui.figures import token_heatmap, vector_bar
from ui.labels import e_notation_meaning, gap_number, md_escape, unique_labels, visible, zero_unsigned
from ui.tables import show_table

GRID_FULL_MAX = 64        # up to this many tokens the grid of all heads has every cell
MAP_FULL_MAX = 256        # the enlarged map has every cell up to here, block averages above
HEAD_VIEW_WINDOW = 40     # tokens per window of the head view
SEARCH_TOP = 10           # heads listed by the head search
SEARCH_DRAWN = 3          # of which drawn as maps


def _amount(value: float, unit: str) -> str:
    """One head's number with its unit in words: a share as a percentage of its attention, bits, tokens."""
    if unit == "share":
        return f"{value:.0%} of its attention"
    if unit == "tokens":
        return f"{value:.2f} tokens away"
    return f"{value:.2f} {unit}"


stage_header(
    "4 · Attention",
    "Attention is where tokens exchange information. In every layer each token's vector is turned into "
    "three smaller vectors per **head**: a **query** (what am I looking for?), a **key** (what do I offer?) "
    "and a **value** (what do I pass on?). A head compares one token's query with every key "
    "(`q·k / √d_k`, d_k being the length of one head's query), turns the scores of that row into "
    "weights that sum to 1 (softmax), and hands on "
    "the weighted sum of the values. The heads work side by side; their outputs are joined and "
    "projected back to the model's width, then added to the token's vector. Everything below is "
    "read from the model while it processed **your** text.",
)




trace = state.current_trace()
if trace is None:
    st.stop()

info = trace.model
tokens = trace.tokens
n = trace.n_tokens
n_layers, n_heads, d_head = info.n_layers, info.n_heads, info.d_head
labels = unique_labels(tokens.tokens)
grid_tick_limit = PROJECTOR_ALL_TICKS if st.session_state.get("present") else 16  # label every token on a projector
# On a projector each small map is tall enough for one 16 px label per token (about 19 px a row).
grid_row_height = max(230, 19 * n + 90) if st.session_state.get("present") and n <= PROJECTOR_ALL_TICKS else 230
special = np.asarray(tokens.special_mask, dtype=bool)

st.info(
    f"**Shapes for your {n} tokens, in each of the {n_layers} layers:** the block's input "
    f"[{n} × {info.d_model}] → Q, K and V, each [{n_heads} heads × {n} × {d_head}] → scores "
    f"Q·Kᵀ/√{d_head}: [{n_heads} × {n} × {n}] → softmax weights, same shape, each row sums to 1 → "
    f"weights · V: [{n_heads} × {n} × {d_head}] → heads joined [{n} × {n_heads * d_head}] → W_o (the output "
    f"projection) → [{n} × {info.d_model}], added to the residual stream (the token's running vector, page 5)."
    + (f" (This model shares {info.n_kv_heads} key/value heads among its {n_heads} query heads.)"
       if info.n_kv_heads != n_heads else "")
)
model_caption(trace)
truncation_notice(trace)

# Token pickers keep their position when the text changes; re-setting them makes the browser
# redraw their labels with the new tokens (otherwise it keeps showing the old text's token).
_signature = hash((info.model_id, tokens.tokens))
if st.session_state.get("_attn_tokens") != _signature:
    st.session_state["_attn_tokens"] = _signature
    for _key in ("attn_query", "attn_hv_focus"):
        if _key in st.session_state:
            st.session_state[_key] = st.session_state[_key]
state.clamp_choice("attn_layer", n_layers)
state.clamp_choice("attn_head", n_heads)
c_layer, c_head, c_hide, c_avg = st.columns([1, 1, 1.4, 1.2])
layer_index = c_layer.selectbox("Layer", range(n_layers), format_func=lambda i: f"layer {i + 1} of {n_layers}", key="attn_layer")
head = c_head.selectbox("Head", range(n_heads), format_func=lambda i: f"head {i + 1} of {n_heads}", key="attn_head")
hide_special = c_hide.toggle(
    "Hide the special tokens' columns", key="attn_hide_special", disabled=not special.any(),
    help="[CLS], [SEP] and similar tokens often soak up attention that means 'nothing to do'. Hiding their "
    "columns shows how the rest is shared out." if special.any() else "This tokenizer adds no special tokens.",
)
average = c_avg.toggle("Average over heads", key="attn_average",
                       help="The enlarged map and the head view show the mean of all heads of the layer.")
hide_special = hide_special and special.any()

layer = trace.layers[layer_index]
allowed = np.asarray(layer.attention_allowed, dtype=bool)
masked = masked_map(layer.attention_probs, allowed)                      # [H, T, T], NaN where masked
keep = ~special if hide_special else np.ones(n, dtype=bool)
kept_positions = np.flatnonzero(keep)
col_labels = [labels[i] for i in kept_positions]

if not allowed.all():
    if info.causal:
        mask_note = ("**Grey cells are masked** (causal mask): this is a decoder, so a token may look only at "
                     "itself and the tokens before it: everything above the diagonal is off limits.")
    else:
        mask_note = ("**Grey cells are masked**: in this layer a token may look only at tokens within its "
                     "sliding window.")
else:
    mask_note = ""

# --- the grid of every head ---------------------------------------------------------------
st.subheader(f"All {n_heads} heads of layer {layer_index + 1}")
grid = masked[:, :, keep]
if n <= GRID_FULL_MAX:
    grid_rows, grid_cols = labels, col_labels
    st.caption("Rows are queries (the token that is looking), columns are keys (what it looks at); a darker "
               "cell is more weight. Hover over a cell for the token pair and its weight. ▼ marks the head "
               "enlarged below.")
else:
    grid, row_starts, col_starts = block_average(grid, GRID_FULL_MAX)
    grid_rows = views.block_labels(row_starts, np.arange(n))
    grid_cols = views.block_labels(col_starts, kept_positions)
    st.caption(f"Your text has {n} tokens: to keep the page light, each small map shows the **average weight "
               f"over blocks of about {n / GRID_FULL_MAX:.0f} × {n / GRID_FULL_MAX:.0f} cells** "
               f"({grid.shape[-2]} × {grid.shape[-1]} blocks). The enlarged map below has every cell; ▼ marks its head.")
show_figure(
    views.head_grid(grid, grid_rows, grid_cols, head_names=[f"head {h + 1}" for h in range(n_heads)],
                    selected=None if average else head, show_ticks=n <= grid_tick_limit,
                    columns=(3 if grid_row_height > 230 else 6) if n_heads > 8 else 4, row_height=grid_row_height),
    key="attn_grid", name=f"attention-layer{layer_index + 1}-all-heads",
)
if mask_note:
    st.caption(mask_note)

# --- one head enlarged, and as lines ---------------------------------------------------------
which = f"the average of all {n_heads} heads" if average else f"head {head + 1}"
st.subheader(f"Layer {layer_index + 1}, {which}, enlarged")
shown = shown_attention(layer, None if average else head)
full = shown.masked
probs_shown = shown.probs
left, right = st.columns([1.25, 1])
with left:
    big = full[:, keep]
    if n <= MAP_FULL_MAX:
        show_figure(views.attention_map(big, labels, col_labels), key="attn_map",
                    name=f"attention-layer{layer_index + 1}-{'average' if average else f'head{head + 1}'}")
    else:
        small, row_starts, col_starts = block_average(big, MAP_FULL_MAX)
        show_figure(views.attention_map(small, views.block_labels(row_starts, np.arange(n)),
                                        views.block_labels(col_starts, kept_positions)),
                    key="attn_map", name=f"attention-layer{layer_index + 1}-{'average' if average else f'head{head + 1}'}-blocks")
        st.caption(f"{n} tokens: shown as averages over blocks ({small.shape[-2]} × {small.shape[-1]}).")
    deviation = shown.row_sum_deviation
    check = ("Every row of the model's weights sums to 1 (largest deviation here: "
             + (f"{e_notation_meaning(deviation)}, float rounding)." if deviation else "none)."))
    if hide_special:
        check += (f" The hidden columns carried **{hidden_share(probs_shown, special):.0%}** of the weight on "
                  "average, so the rows shown now sum to less than 1.")
    st.caption(check + (" " + mask_note if mask_note else ""))
with right:
    st.markdown("**Head view**: each token on the left (as a query) is joined to the tokens on the right "
                "(as keys) it attends to; the thicker and darker the line, the larger the weight.")
    if n > HEAD_VIEW_WINDOW:
        if not 0 <= st.session_state.get("attn_hv_start", 0) <= n - HEAD_VIEW_WINDOW:
            st.session_state["attn_hv_start"] = 0
        start = st.slider("First token of the window", 0, n - HEAD_VIEW_WINDOW, key="attn_hv_start",
                          help=f"The head view draws {HEAD_VIEW_WINDOW} tokens at a time.")
    else:
        start = 0
    window = np.arange(start, min(n, start + HEAD_VIEW_WINDOW))
    window_keys = window[keep[window]]
    focus_options = [-1, *window.tolist()]
    if st.session_state.get("attn_hv_focus", -1) not in focus_options:
        st.session_state["attn_hv_focus"] = -1
    focus = st.selectbox("Lines from", focus_options, key="attn_hv_focus",
                         format_func=lambda i: "every token" if i < 0 else f"{i}: {visible(tokens.tokens[i])}")
    min_weight = 0.1 if focus < 0 else 0.01
    links = strongest_links(probs_shown, min_weight=min_weight, top_per_query=2 if focus < 0 else 0,
                            queries=window if focus < 0 else [focus], keys=window_keys)
    show_figure(views.head_view(links, [labels[i] for i in window], window, focus=None if focus < 0 else focus),
                key="attn_head_view", name=f"head-view-layer{layer_index + 1}-{'average' if average else f'head{head + 1}'}")
    outside = share_outside(probs_shown, window, window_keys)
    st.caption((f"Drawn: each token's 2 strongest links and every link of at least {min_weight:g}" if focus < 0
                else f"Links below {min_weight:g} are left out")
               + (f"; on average {outside:.0%} of a row's weight goes to tokens outside this window or hidden"
                  if n > HEAD_VIEW_WINDOW or hide_special else "") + ".")

# --- every head at a glance -----------------------------------------------------------------
st.subheader("Every head at a glance")
metrics = head_overview(trace)
by_key = {m.key: m for m in metrics}
metric_key = st.radio("One number per head", [m.key for m in metrics], format_func=lambda k: by_key[k].label,
                      horizontal=True, key="attn_metric")
metric = by_key[metric_key]
_, special_names = special_columns(trace)
st.caption(metric.explanation
           + (f" Here: {', '.join(md_escape(name) for name in special_names)}."
              if metric.key == "special" and special_names else "")
           + " **Click a square to open that head** above.")
show_figure(views.overview_matrix(metric, selected=(layer_index, head)), config={"displayModeBar": False},
            key="attn_overview", name=f"heads-overview-{metric.key}", on_select=callbacks.open_head_from_overview,
            selection_mode="points")
hi, lo = metric.highest, metric.lowest
st.caption(f"Highest: layer {hi[0] + 1}, head {hi[1] + 1} ({_amount(hi[2], metric.unit)}) · lowest: layer "
           f"{lo[0] + 1}, head {lo[1] + 1} ({_amount(lo[2], metric.unit)}).")

second_trace = state.compare_trace()  # "Compare with…": the same overview for the second model, same metric
if second_trace is not None:
    second_metric = {m.key: m for m in head_overview(second_trace)}[metric_key]
    second_info = second_trace.model
    st.markdown(f"**Compared: {md_escape(second_info.model_id)}**, {second_info.n_layers} layers × "
                f"{second_info.n_heads} heads, {second_trace.n_tokens} tokens of the same text: {metric.label.lower()}.")
    show_figure(views.overview_matrix(second_metric, selected=None, clickable=False), config={"displayModeBar": False},
                key="attn_overview_compared", name=f"heads-overview-{metric.key}-compared")
    s_hi, s_lo = second_metric.highest, second_metric.lowest
    st.caption(f"Highest: layer {s_hi[0] + 1}, head {s_hi[1] + 1} ({_amount(s_hi[2], metric.unit)}) · lowest: layer "
               f"{s_lo[0] + 1}, head {s_lo[1] + 1} ({_amount(s_lo[2], metric.unit)}). Mean over every head: "
               f"{_amount(metric.mean, metric.unit)} here, {_amount(second_metric.mean, metric.unit)} compared.")

# --- head search ----------------------------------------------------------------------------
st.subheader("Which head links one token to another?")
st.markdown("Pick the token that looks (the query) and the token it might look at (the key): every head of every "
            f"layer, all {n_layers * n_heads}, ranked by that one attention weight. Or type the two words, e.g. "
            "*it → animal*.")
c_words, c_from, c_to = st.columns([1.2, 1, 1])
search_words = c_words.text_input("Two words: from → to", key="attn_search_words", max_chars=200,
                                  placeholder="it → animal", help="The first token of each word in your text "
                                  "(the first occurrence; for the 'to' word, before or after 'from').")
if (search_words, _signature) != st.session_state.get("_attn_search_resolved"):  # new words, or a new text
    st.session_state["_attn_search_resolved"] = (search_words, _signature)
    parts = [p.strip() for p in search_words.replace("->", "→").replace(">", "→").split("→")] if search_words.strip() else []
    if len(parts) == 2 and all(parts):
        found_from = find_token(tokens, parts[0])
        found_to = find_token(tokens, parts[1])
        if found_from is None or found_to is None:
            missing = parts[0] if found_from is None else parts[1]
            st.session_state["_attn_search_problem"] = f"“{missing}” is not a word of your text."
        else:
            st.session_state["attn_search_from"], st.session_state["attn_search_to"] = found_from, found_to
            st.session_state.pop("_attn_search_problem", None)
    elif parts:
        st.session_state["_attn_search_problem"] = "Type two words joined by → (or ->), e.g. it → animal."
    else:
        st.session_state.pop("_attn_search_problem", None)
if st.session_state.get("_attn_search_problem"):
    c_words.caption(md_escape(st.session_state["_attn_search_problem"]))
state.clamp_choice("attn_search_from", n, default=n - 1)
state.clamp_choice("attn_search_to", n, default=0)
search_from = c_from.selectbox("From (the query)", range(n), key="attn_search_from",
                               format_func=lambda i: f"{i}: {visible(tokens.tokens[i])}")
search_to = c_to.selectbox("To (the key)", range(n), key="attn_search_to",
                           format_func=lambda i: f"{i}: {visible(tokens.tokens[i])}")
link_ranking = heads_by_link(trace, search_from, search_to)
top_links = link_ranking.top(SEARCH_TOP)
if not any(bool(traced.attention_allowed[search_from, search_to]) for traced in trace.layers):
    st.info(f"{visible(tokens.tokens[search_from])} may not look at {visible(tokens.tokens[search_to])}: this model's "
            "mask (a decoder's: no token sees the ones after it) hides it in every layer, so every head gives 0.")
show_table(pd.DataFrame({
    "rank": range(1, len(top_links) + 1),
    "layer": [found + 1 for found, _, _ in top_links],
    "head": [h + 1 for _, h, _ in top_links],
    f"weight of {visible(tokens.tokens[search_from])} on {visible(tokens.tokens[search_to])}":
        [round(w, 4) for *_, w in top_links],
}), hide_index=True, width="stretch")
median_weight = link_ranking.median
st.caption(f"A weight is the share of this query's attention (its row sums to 1) that goes to that key. "
           f"The median head gives {median_weight:.3f}; an even spread over the {n} tokens would give {1 / n:.3f}.")
drawn = top_links[:SEARCH_DRAWN]
if drawn:
    show_figure(views.head_grid(np.stack([masked_map(trace.layers[found].attention_probs, trace.layers[found].attention_allowed)[h]
                                          for found, h, _ in drawn]),
                                labels, labels, head_names=[f"layer {found + 1} · head {h + 1}: {w:.2f}" for found, h, w in drawn],
                                selected=None, show_ticks=n <= grid_tick_limit, columns=len(drawn),
                                row_height=grid_row_height),
                key="attn_search_maps", name=f"heads-for-{search_from}-to-{search_to}")
    open_cols = st.columns(len(drawn))
    for column, (found, h, _) in zip(open_cols, drawn):
        column.button(f"Open layer {found + 1}, head {h + 1}", key=f"attn_search_open_{found}_{h}",
                      on_click=callbacks.set_values, args=({"attn_layer": found, "attn_head": h},))
pattern = st.radio("Or: heads whose tokens look at…", list(PATTERNS), format_func=lambda key: PATTERNS[key],
                   horizontal=True, key="attn_search_pattern")
pattern_ranking = heads_by_pattern(trace, pattern)
if pattern_ranking.answered:
    top_pattern = pattern_ranking.top(5)
    st.caption("Highest share of attention on " + PATTERNS[pattern] + ", averaged over the tokens that have one: "
               + "; ".join(f"layer {found + 1} head {h + 1} ({value:.0%})" for found, h, value in top_pattern) + ".")
else:
    st.caption({"same_word": "No word of your text is cut into several pieces, so no head can look at the rest of "
                             "its own word.",
                "separator": "This tokenizer adds no special tokens, so there is no separator to look at."}
               .get(pattern, "No token of your text has one."))

# --- the formula for one query token --------------------------------------------------------
st.subheader("The formula, worked for one token")
st.latex(r"\text{Attention}(q, K, V) = \operatorname{softmax}\!\left(\frac{q\,K^\top}{\sqrt{d_k}}\right) V")
state.clamp_choice("attn_query", n, default=min(1, n - 1))
query_index = st.selectbox("Query token", range(n), key="attn_query",
                           format_func=lambda i: f"{i}: {visible(tokens.tokens[i])}")
worked = worked_attention(layer, head, query_index)
token_md = md_escape(tokens.tokens[query_index])
if average:
    st.caption(f"The formula runs inside one head: this uses head {head + 1} (the average toggle applies to the maps above).")
scale = worked.scale
st.markdown(
    f"Layer {layer_index + 1}, head {head + 1}, query token **{token_md}** (position {query_index}). "
    f"d_k = {d_head}, so the model scales every dot product by {scale:.5f}"
    + (f" = 1/√{d_head}." if abs(scale - d_head ** -0.5) < 1e-6
       else f" (its own factor; 1/√{d_head} would be {d_head ** -0.5:.5f}).")
)
step1, step2 = st.columns(2)
with step1:
    st.markdown(f"**1 · Its query vector q** ({d_head} numbers)")
    show_figure(vector_bar(worked.query, height=200), key="attn_q",
                name=f"query-layer{layer_index + 1}-head{head + 1}-token{query_index}")
with step2:
    st.markdown(f"**2 · Every token's key** ({n} × {d_head})")
    show_figure(token_heatmap(worked.keys, tokens.tokens, x_title="dimension of the head", decimals=3,
                              height=int(min(720, max(200, 16 * n + 80)))),
                key="attn_keys", name=f"keys-layer{layer_index + 1}-head{head + 1}")
st.markdown("**3 · Scores, then softmax**: one score per key, q·k × scale"
            + (" + the model's relative-position bias" if worked.has_bias else "")
            + (", masked keys set to −∞" if not worked.allowed.all() else "")
            + "; softmax turns the row into weights that sum to 1.")
show_figure(views.worked_scores(worked, labels), key="attn_scores",
            name=f"scores-layer{layer_index + 1}-head{head + 1}-token{query_index}")
table = {
    "position": np.arange(n),
    "key token": [visible(t) for t in tokens.tokens],
    "q·k": zero_unsigned(np.round(worked.dots, 4)),
}
if worked.has_bias:  # score = q·k × scale + bias: show both steps
    table[f"q·k × {scale:.4f}"] = zero_unsigned(np.round(worked.scaled_dots, 4))
    table["+ bias"] = zero_unsigned(np.round(worked.bias, 4))
    table["= score"] = zero_unsigned(np.round(worked.scores, 4))
else:  # the score is just q·k × scale: one column, not two identical ones
    table[f"score = q·k × {scale:.4f}"] = zero_unsigned(np.round(worked.scores, 4))
table.update({
    "may look": np.where(worked.allowed, "yes", "masked"),
    "exp(score − max)": np.round(worked.exp_scores, 5),
    "weight (computed here)": np.round(worked.weights, 5),
    "weight (the model's)": np.round(worked.traced_weights, 5),
})
show_table(pd.DataFrame(table), hide_index=True, width="stretch", height=min(420, 36 * n + 40), key="attn_table")
st.markdown(f"**4 · The weighted sum of the values**: Σ weight × v over the {n} keys gives this head's "
            f"output for **{token_md}** ({d_head} numbers), which the model passes on to W_o.")
show_figure(views.weighted_sum_bars(worked), key="attn_sum",
            name=f"weighted-sum-layer{layer_index + 1}-head{head + 1}-token{query_index}")
model = state.current_model()
m1, m2, m3 = st.columns(3)
output_gap = output_projection_check(model, layer) if model is not None else None
m1.metric("weights: largest difference to the model's", gap_number(worked.weights_max_error))
m2.metric("weighted sum: largest difference to the model's", gap_number(worked.sum_max_error))
if output_gap is not None:
    m3.metric("all heads joined → W_o vs. the attention output", gap_number(output_gap))
gaps = [worked.weights_max_error, worked.sum_max_error] + ([output_gap] if output_gap is not None else [])
st.caption(f"The weights sum to {worked.weights_total:.6f}. Recomputed here from the traced q, K and V, they "
           "match what the model used to within float32 rounding; joining all heads and applying the model's own "
           "output projection W_o gives "
           + ("exactly the attention output it added to the residual stream. " if output_gap == 0 else
              "the attention output it added to the residual stream. ")
           + f"(The {len(gaps)} numbers above are the largest gaps found: {e_notation_meaning(max(gaps))}"
           + (", the same numbers computed in another order.)" if max(gaps) else ".)"))

# --- queries and keys in one picture ---------------------------------------------------------
st.subheader("Queries and keys in one picture")
st.markdown(
    f"Head {head + 1} of layer {layer_index + 1}: each token appears twice, as a **query** (circle) and as a "
    "**key** (diamond), in one shared 2-D projection (PCA). Nearby query and key mean a large dot product, so "
    "a query attends to the keys around it. Colour is the token's position: in a head that attends **by "
    "position** the colours form bands and each query sits next to its neighbours' keys; in a head that "
    "attends **by content** the same or related words gather together whatever their position."
)
projection = query_key_projection(layer, head)
# On a projector each label is 16 px: beyond a dozen tokens they would cover each other (hover still names each point).
show_figure(views.query_key_scatter(projection, labels, show_text=n <= (12 if st.session_state.get("present") else 30)), key="attn_qk",
            name=f"queries-keys-layer{layer_index + 1}-head{head + 1}")
st.caption(
    f"Before projecting, the keys were shifted by one common vector (length {projection.key_shift_norm:.2f}) onto "
    f"the queries' centre, and queries scaled by {projection.scale_factor:.2f} and keys by "
    f"1/{projection.scale_factor:.2f}: neither move changes any attention weight (softmax ignores a constant "
    "added to a whole row), but without them the picture would mostly show the gap between the two clouds. "
    f"The two axes hold {projection.explained_total:.0%} of the spread of the {d_head}-dimensional vectors; the rest "
    "lies in directions a flat picture cannot show, so closeness here is a rough guide, not the exact score."
)
neighbours = by_key["neighbours"].values
positional, contentish = suggested_heads(metrics)
b1, b2 = st.columns(2)
b1.button(f"Open the most positional head (layer {positional[0] + 1}, head {positional[1] + 1}: "
          f"{neighbours[positional]:.0%} of its attention on the neighbours)", key="attn_go_positional",
          on_click=callbacks.set_values, args=({"attn_layer": positional[0], "attn_head": positional[1]},))
b2.button(f"Open a content head (layer {contentish[0] + 1}, head {contentish[1] + 1})", key="attn_go_content",
          help="The head that puts the least weight on its neighbours and on the special tokens.",
          on_click=callbacks.set_values, args=({"attn_layer": contentish[0], "attn_head": contentish[1]},))
