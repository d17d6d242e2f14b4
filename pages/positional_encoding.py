"""Stage 3 · Positional encoding: the article's sinusoids at this text's size, the loaded model's
own position information (a learned table, or RoPE rotations), and the word-order experiment on
the real model with its position information switched off by hooks.
Everything but the experiment comes from the cached trace (no forward pass here)."""

import numpy as np
import streamlit as st

from core import ExplorerError
from core.analysis.positional import (
    cosine_matrix,
    dot_products,
    offset_profile,
    rope_frequencies,
    rope_offset_check,
    rotation_path,
    sinusoidal_encoding,
)
from core.models.family_notes import position_scheme
from core.text.tokenization import validate_text
from ui import position_views as views
from ui import state
from ui.relative_position_views import show_relative_buckets
from ui.common import model_caption, stage_header, truncation_notice
from ui.export import show_figure
from ui.figures import heatmap
from ui.labels import e_notation_meaning, md_escape, signed_number

WINDOW = 64   # positions per positions × dimensions heatmap (the T × T views always show every position)




def _decimal(value: float, digits: int = 1) -> str:
    """A tiny number in e-notation with its decimal meaning: '3.1e-07 (0.00000031)'."""
    shown = f"{value:.{digits}e}"
    if int(shown.split("e")[1]) >= -2:
        return f"{value:.{digits + 2}f}"
    return f"{shown} ({e_notation_meaning(value).split(' means ')[1]})"


def _rounding(profile) -> str:
    """', float rounding' where a diagonal's spread is tiny next to its values (the maths says 0)."""
    return ", float rounding" if profile.relative_spread < 1e-4 else ""


def _learned_trend(profile) -> str:
    """What the learned rows' cosine by distance shows, read from the live profile (claims only what it shows)."""
    keep = profile.offsets >= 1
    offsets, means = profile.offsets[keep], profile.mean[keep]
    if offsets.size < 2:
        return "With this few positions there is no trend by distance to read: type a longer text."
    near, far, distance = float(means[0]), float(means[-1]), int(offsets[-1])
    if near > far:
        return (f"Nobody told the model to make nearby positions alike, yet training did: neighbouring positions average "
                f"a cosine of {near:.2f}, positions {distance} apart {far:.2f} (1 = the same direction, 0 = unrelated).")
    return (f"Here neighbouring positions (cosine {near:.2f} on average) are no more alike than positions {distance} "
            f"apart ({far:.2f}): this table shows no fall of similarity with distance.")


def _window(n: int, key: str) -> tuple[int, int]:
    """Positions [start, stop) of one window; a slider picks the window when the text is longer than WINDOW."""
    if n <= WINDOW:
        return 0, n
    start = st.select_slider("Positions", options=list(range(0, n, WINDOW)), key=key,
                             format_func=lambda s: f"{s}–{min(s + WINDOW, n) - 1}")
    st.caption(f"{n} positions: one window of {WINDOW} at a time keeps the page light.")
    return start, min(start + WINDOW, n)


trace = state.current_trace()
info = trace.model if trace is not None else None
if trace is not None:
    n, d = trace.n_tokens, info.d_model
    if info.position_kind == "rope":
        shapes = (f"{n} positions → {n} × {info.d_head // 2} rotation angles (one per position and dimension pair of a "
                  f"{info.d_head}-d head) → applied to Q and K, [{info.n_heads} × {n} × {info.d_head}], in every layer; "
                  f"the {n} × {d} token rows pass unchanged")
    elif info.position_kind == "relative":
        shapes = (f"{n} × {n} offsets → one bucket each → a learned bias per bucket and head, added to the "
                  f"[{info.n_heads} × {n} × {n}] attention scores; the {n} × {d} token rows pass unchanged")
    else:
        shapes = f"{n} positions → {n} × {d} position rows, added to the {n} × {d} token rows → {n} × {d}"
else:
    shapes = None
stage_header(
    "3 · Positional encoding",
    "Attention compares every token with every other token at once, so on its own it cannot tell "
    "*The cat bit the dog* from *The dog bit the cat*: same tokens, same pairs. Position information "
    "breaks the tie. The article shows the original sinusoidal encoding; real models mostly learn "
    "their own positions or rotate the queries and keys that attention compares (RoPE; page 4 shows "
    "what queries and keys are). Below: the article's version at your "
    "text's size, then what the loaded model really does, then an experiment on the real model.",
    shapes,
)
if trace is None:
    st.stop()
model_caption(trace)
truncation_notice(trace)
st.info(f"**This model ({md_escape(info.model_id)}) does not use the article's sinusoids.** It uses "
        f"{position_scheme(info.position_kind)}. The sinusoids come first below, for comparison.")
positions = np.arange(n)

# -- 1 · the article's sinusoidal encoding --------------------------------------------------------
st.subheader(f"The article's sinusoidal encoding, {n} positions × {d} dimensions")
st.markdown(
    "Dimension 2i carries sin(p·ωᵢ) and 2i+1 carries cos(p·ωᵢ), with ωᵢ = 10000^(−2i/d): fast waves in the "
    "first dimensions, slow ones at the end. Because sin·sin + cos·cos = cos of the difference, the dot product "
    "of two positions depends only on how far apart they are."
)
encoding = sinusoidal_encoding(n, d)
sin_view = st.radio("Show", ["the encoding (positions × dimensions)", "dot products between positions"],
                    horizontal=True, key="pos_sin_view")
if sin_view.startswith("the encoding"):
    start, stop = _window(n, "pos_sin_window")
    show_figure(heatmap(encoding[start:stop], y_labels=[str(p) for p in range(start, stop)], x_title="dimension",
                        y_title="position", decimals=3, zmin=-1, zmax=1,
                        hover="position %{y} · dim %{x}: %{z:.3f}"), key="pos_sin_heat",
                name=f"sinusoidal-encoding-positions{start}-{stop - 1}")
else:
    sin_dots = dot_products(encoding)
    show_figure(heatmap(sin_dots, x_title="position", y_title="position", decimals=2, colorscale="Viridis", zmid=None,
                        hover="positions %{y} · %{x}: %{z:.2f}"), key="pos_sin_dots", name="sinusoidal-dot-products")
sin_profile = offset_profile(dot_products(encoding))
show_figure(views.offset_figure(sin_profile, title="Sinusoids: dot product by distance", y_title="PE[m]·PE[n]"),
            key="pos_sin_profile", name="sinusoidal-dot-product-by-distance")
st.caption(f"Numeric check on these {n} positions: along every diagonal (same distance) the dot products "
           + (f"differ by at most {_decimal(sin_profile.max_spread)}{_rounding(sin_profile)} (on values up to "
              f"{sin_profile.scale:.0f})" if sin_profile.max_spread > 0 else "are identical")
           + ": they depend only on the distance.")

# -- 2 · the model's own position information ------------------------------------------------------
st.subheader("This model's own position information")
if info.position_kind in ("learned", "learned+relative") and trace.embeddings.position_rows is not None:
    rows = trace.embeddings.position_rows
    table = state.current_model().weights("position_embeddings")
    st.markdown(
        f"A learned table of {table.shape[0]:,} × {table.shape[1]:,}: row p is added to the token at position p. "
        f"Your text uses its first {n} rows"
        + (f"; the model reads at most {info.max_seq_length:,} tokens, so rows past that are never used by this pipeline."
           if table.shape[0] > info.max_seq_length else ".")
    )
    learned_view = st.radio("Show", ["position rows (positions × dimensions)", "cosine similarity between positions"],
                            horizontal=True, key="pos_learned_view")
    learned_cos = cosine_matrix(rows)
    if learned_view.startswith("position rows"):
        limit = views.robust_limit(rows)
        start, stop = _window(n, "pos_learned_window")
        show_figure(heatmap(rows[start:stop], y_labels=[str(p) for p in range(start, stop)], x_title="dimension",
                            y_title="position", decimals=3, zmin=-limit, zmax=limit,
                            hover="position %{y} · dim %{x}: %{z:.3f}"),
                    key="pos_learned_heat", name=f"learned-positions{start}-{stop - 1}")
        st.caption(f"Colours saturate at ±{limit:.3f} (99 % of the values are smaller); hover shows each value to 3 decimals.")
    else:
        show_figure(heatmap(learned_cos, x_title="position", y_title="position", decimals=3, zmin=-1, zmax=1,
                            hover="positions %{y} · %{x}: %{z:.3f}"), key="pos_learned_cos", name="learned-positions-cosine")
    learned_profile = offset_profile(learned_cos)
    show_figure(views.offset_figure(learned_profile, title="Learned rows: cosine similarity by distance", y_title="cosine"),
                key="pos_learned_profile", name="learned-positions-cosine-by-distance")
    st.caption(
        _learned_trend(learned_profile)
        + f" Unlike the sinusoids it is not a function of distance alone: pairs at the same distance differ in "
        f"cosine by up to {learned_profile.max_spread:.2f} (on a scale from −1 to 1)."
        + (" This model also adds a learned bias to attention scores by relative distance (MPNet)."
           if info.position_kind == "learned+relative" else "")
    )
elif info.position_kind == "rope" and trace.embeddings.rotary_angles is not None:
    layers_with_angles = [layer.index for layer in trace.layers if layer.rotary_angles is not None]
    if st.session_state.get("pos_rope_layer") not in layers_with_angles:
        st.session_state["pos_rope_layer"] = layers_with_angles[0]
    if len(layers_with_angles) > 1:
        layer_index = st.selectbox("Layer", layers_with_angles, key="pos_rope_layer")
    else:
        layer_index = layers_with_angles[0]
    layer = trace.layers[layer_index]
    angles = layer.rotary_angles
    frequencies = rope_frequencies(angles)
    st.markdown(
        f"Each {info.d_head}-d query and key is cut into {angles.shape[1]} pairs of dimensions (dimension i with "
        f"i + {info.d_head // 2}); at position p pair i is turned by p·θᵢ. The angles below are the ones the model "
        "computed for your text (shown wrapped to −π…π)."
    )
    show_figure(heatmap(angles, x_title="dimension pair", y_title="position", decimals=3, colorscale="Twilight",
                        zmin=-np.pi, zmax=np.pi, hover="position %{y} · pair %{x}: %{z:.3f} rad"),
                key="pos_rope_angles", name=f"rope-angles-layer{layer_index}")
    if frequencies is not None:
        st.caption(f"Radians per position step (how far each pair turns from one position to the next; 6.28 is a "
                   f"full turn): {frequencies[0]:.3f} for pair 0 down to {_decimal(frequencies[-1], 2)} for pair "
                   f"{len(frequencies) - 1}.")
    state.clamp_choice("pos_rope_pair", angles.shape[1])
    pair = st.slider("Dimension pair", 0, angles.shape[1] - 1, key="pos_rope_pair") if angles.shape[1] > 1 else 0
    circle = views.rotation_figure(rotation_path(angles, pair), title=f"Pair {pair}: one vector (1, 0) placed at each position")
    show_figure(circle, key="pos_rope_circle", name=f"rope-rotation-pair{pair}")
    if n >= 2:
        check = rope_offset_check(layer.query, layer.key, angles, head=0, query_token=0, key_token=1)
        figure = views.offset_figure(check.profile, title="q·k of the same two vectors at every pair of positions, by distance",
                                     y_title="q·k")
        show_figure(figure, key="pos_rope_profile", name=f"rope-qk-by-distance-layer{layer_index}")
        st.caption(
            f"Numeric check, layer {layer_index}, head 0: the query of token 0 and the key of token 1, with the model's "
            f"rotation undone, were placed at all {n} × {n} pairs of positions and rotated again. Along every diagonal "
            "(same offset) q·k "
            + (f"varies by at most {_decimal(check.profile.max_spread)}{_rounding(check.profile)} (on values up to "
               f"{check.profile.scale:.2f})" if check.profile.max_spread > 0 else "is identical")
            + ": with RoPE the score depends only on the offset, as the article says."
        )
elif info.position_kind == "relative":
    show_relative_buckets(trace, state.current_model())
else:
    st.caption("This model records no position rows or angles the explorer can show.")
if info.position_kind == "learned+relative":
    show_relative_buckets(trace, state.current_model())

# -- 2b · the compared model's position information ("Compare with…") ----------------------------------
second_trace = state.compare_trace()
if second_trace is not None:
    second_info = second_trace.model
    st.subheader("Both models' position information")
    st.markdown("The same text under the model compared with this one. Each side is computed from its own trace, as "
                "this page shows a model alone.")
    for column, (side_trace, side_model, side) in zip(st.columns(2), ((trace, state.current_model(), "model"),
                                                                       (second_trace, state.compare_model(), "compared"))):
        with column:
            side_info = side_trace.model
            st.markdown(f"**{'This model' if side == 'model' else 'Compared'}: {md_escape(side_info.model_id)}**")
            st.caption(position_scheme(side_info.position_kind).capitalize() + ".")
            if side_info.position_kind in ("learned", "learned+relative") and side_trace.embeddings.position_rows is not None:
                side_table = side_model.weights("position_embeddings")
                st.metric("position table", f"{side_table.shape[0]:,} × {side_table.shape[1]:,}")
                side_profile = offset_profile(cosine_matrix(side_trace.embeddings.position_rows))
                show_figure(views.offset_figure(side_profile, title="Position rows: cosine by distance", y_title="cosine"),
                            key=f"pos_compare_profile_{side}", name=f"positions-cosine-by-distance-{side}")
            elif side_info.position_kind == "rope" and side_trace.embeddings.rotary_angles is not None:
                side_angles = next(layer.rotary_angles for layer in side_trace.layers if layer.rotary_angles is not None)
                st.metric("rotation angles", f"{side_angles.shape[0]:,} positions × {side_angles.shape[1]:,} pairs")
                show_figure(heatmap(side_angles, x_title="dimension pair", y_title="position", decimals=3,
                                    colorscale="Twilight", zmin=-np.pi, zmax=np.pi,
                                    hover="position %{y} · pair %{x}: %{z:.3f} rad"),
                            key=f"pos_compare_rope_{side}", name=f"rope-angles-{side}")
            else:
                st.caption("This model records no position rows or angles the explorer can show.")

# -- 3 · the word-order experiment ----------------------------------------------------------------
st.subheader("Experiment: does word order change the embedding?")
st.markdown(
    "Both texts are embedded by the loaded model exactly as its pipeline does (pooling and normalisation "
    "included), then again with its position information removed by forward hooks that are taken off right after."
)
st.session_state.setdefault("pos_order_a", "The cat bit the dog")
st.session_state.setdefault("pos_order_b", "The dog bit the cat")
left, right = st.columns(2)
text_a = left.text_input("Text A", key="pos_order_a", max_chars=2000)
text_b = right.text_input("Text B", key="pos_order_b", max_chars=2000)
try:
    validate_text(text_a)
    validate_text(text_b)
    with st.spinner("Running the experiment on the model…"):
        result = views.word_order(st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY], text_a, text_b)
except ExplorerError as error:
    result = None
    st.warning(md_escape(str(error)))
except Exception as error:  # noqa: BLE001 - a page never shows a stack trace
    result = None
    st.error(f"The experiment failed: {type(error).__name__}: {md_escape(str(error)[:200])}")
if result is not None:
    cols = st.columns(2)
    cols[0].metric("cosine similarity, as the model computes it", signed_number(result.cosine, 6),
                   help="How alike the two embeddings are: 1 = the same direction (the model sees no difference), "
                        "lower = more different. Six decimals, so that a small gap shows.")
    cols[1].metric("cosine similarity, position information removed", signed_number(result.cosine_without_positions, 6),
                   delta=signed_number(result.cosine_without_positions - result.cosine, 6, plus=True), delta_color="off",
                   help="The same two texts, embedded with the position information switched off. The small number "
                        "under it is the change from the cosine with positions.")
    st.markdown(f"Removed: {result.plan.description}.")
    if result.identical_tokens:
        st.caption("The two texts have exactly the same tokens in the same order.")
    elif result.same_tokens:
        if result.plan.order_left:
            st.warning(f"Same tokens in another order, but this model still sees order through "
                       f"{result.plan.order_left}. So the two embeddings can still differ.")
        else:
            decimals = 4 if round(result.cosine, 4) < 1 else 6  # never "1.0000, not 1"
            with_positions = (
                f"the two embeddings are different vectors (cosine {result.cosine:.{decimals}f}: "
                f"{'close to 1, yet ' if result.cosine > 0.9 else ''}not 1, so word order is in the embedding)"
                if round(result.cosine, 6) < 1 else
                f"the two embeddings are equal to six decimals (cosine {result.cosine:.6f}): this model barely "
                "sees the word order here")
            st.success(
                f"Same tokens, another order. With positions on, {with_positions}; with positions removed, attention and {result.pooling} pooling "
                f"see only which tokens are there, so the two embeddings become identical (cosine "
                f"{result.cosine_without_positions:.6f}; any gap from 1 is float rounding)."
            )
        if info.position_kind == "rope":
            st.caption("For a RoPE model 'removing positions' means skipping the rotation of queries and keys in every "
                       "layer (cos = 1, sin = 0); the token rows themselves never carried a position.")
    else:
        st.caption("These two texts have different tokens, so they differ with or without positions: "
                   "change only the order of the words to isolate what position information does.")
    with st.expander("The tokens of both texts"):
        for label, toks in (("A", result.tokens_a), ("B", result.tokens_b)):
            st.markdown(f"**{label}:** " + " · ".join(md_escape(t) for t in toks))
