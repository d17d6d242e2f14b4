"""Stage 5 · Feed-forward network: the expansion in numbers, the activations inside each layer,
top neurons per token and top tokens per neuron, and the residual stream that attention and the
FFN write into. Every number comes from the cached trace of the current text."""

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis.ffn_stats import (
    tokens_firing,
    activation_histogram,
    ffn_shape,
    lowest_activation,
    most_active_neurons,
    near_zero_by_layer,
    near_zero_overall,
    near_zero_share,
    residual_stream,
    top_neurons_of_token,
    top_tokens_of_neuron,
)
from core.analysis.colour_scale import colour_cap
from core.models.family_notes import normalisation
from ui import ffn_views as views
from ui import state
from ui.common import model_caption, stage_header, truncation_notice
from ui.export import show_figure
from ui.labels import md_escape, visible, zero_unsigned
from ui.tables import show_table

HEATMAP_NEURONS = 40
TOP_K = 12
EPS_CHOICES = [0.001, 0.01, 0.05, 0.1, 0.25]


def _quiet_reading(activations, share: float, eps: float, gelu: bool) -> str:
    """What the near-zero share says, from the live numbers: 'most neurons stay quiet' only where they do."""
    if share >= 0.5:
        return "Most neurons stay (nearly) silent for a given token; a few fire."
    wider = next(((value, near_zero_share(activations, value)) for value in EPS_CHOICES
                  if value > eps and near_zero_share(activations, value) >= 0.5), None)
    if wider is None:
        return ("That is fewer than half, even at the widest threshold: in this layer many neurons respond to "
                "each token.")
    why = (" Many of the others are small values just outside it: GELU's 'off' side dips to about −0.17, not to 0."
           if gelu else "")
    return (f"That is fewer than half.{why} Within ±{wider[0]:g}, **{wider[1]:.0%}** are near zero: most "
            "neurons stay quiet for a given token, and a few fire strongly.")


stage_header(
    "5 · Feed-forward network",
    "After attention has mixed information between tokens, every token's vector goes through a small "
    "two-layer network of its own: the **feed-forward network (FFN)**. It widens the vector (usually "
    "about 4×), bends it with a **non-linearity** (GELU, ReLU, SiLU …), and projects it back to the "
    "model's width. It runs on each token **separately**: no token sees another here. Each of the wide "
    "layer's units is a **neuron**; its value for a token is its **activation**. Research suggests much "
    "of what a model knows is stored in these weights. The FFN's output is added to the token's "
    "vector, the **residual stream** that every sub-layer reads from and writes into.",
)




trace = state.current_trace()
if trace is None:
    st.stop()

info = trace.model
tokens = trace.tokens
n = trace.n_tokens
shape = ffn_shape(info)
st.info(
    f"**Shapes for your {n} tokens, in each of the {info.n_layers} layers:** the stream after attention "
    f"[{n} × {shape.d_model}] → "
    + (f"W_gate and W_up, each → [{n} × {shape.d_ff}] → {shape.activation_label}(gate) × up"
       if shape.gated else f"W_in → [{n} × {shape.d_ff}] → {shape.activation_label}")
    + f" → [{n} × {shape.d_ff}] activations → {'W_down' if shape.gated else 'W_out'} → [{n} × {shape.d_model}], "
    "added to the residual stream."
)
model_caption(trace)
truncation_notice(trace)

# Token pickers keep their position when the text changes; re-setting them makes the browser
# redraw their labels with the new tokens (otherwise it keeps showing the old text's token).
_signature = hash((info.model_id, tokens.tokens))
if st.session_state.get("_ffn_tokens") != _signature:
    st.session_state["_ffn_tokens"] = _signature
    for _key in ("ffn_token", "ffn_res_tokens"):
        if _key in st.session_state:
            st.session_state[_key] = st.session_state[_key]

# --- the expansion in numbers ----------------------------------------------------------------
st.subheader("The expansion, in numbers")


def _expansion_metrics(side_shape, side_info) -> None:
    """One model's FFN in four numbers, from its own ModelInfo."""
    c1, c2, c3, c4 = st.columns([1.5, 0.8, 1.2, 1])
    c1.metric("width: in → inside → out", side_shape.arrow)
    c2.metric("expansion", f"× {side_shape.expansion:.2f}".rstrip("0").rstrip("."))
    c3.metric("non-linearity", side_shape.activation_label + (" (gated)" if side_shape.gated else ""))
    side_total = side_shape.weight_count * side_info.n_layers
    c4.metric("FFN weights, all layers", f"{side_total / 1e6:,.1f} M",
              help=f"{side_shape.weight_count:,} per layer × {side_info.n_layers} layers, biases left out: "
                   f"{side_total / side_info.parameter_count:.0%} of the model's {side_info.parameter_count:,} parameters.")


second_trace = state.compare_trace()  # "Compare with…": the second model's FFN beside this one
second_shape = ffn_shape(second_trace.model) if second_trace is not None else None
if second_trace is None:
    _expansion_metrics(shape, info)
else:
    st.markdown(f"**This model: {md_escape(info.model_id)}**")
    _expansion_metrics(shape, info)
    st.markdown(f"**Compared: {md_escape(second_trace.model.model_id)}**")
    _expansion_metrics(second_shape, second_trace.model)
st.graphviz_chart(views.ffn_diagram(shape))
if shape.gated:
    st.caption(
        f"This model's FFN is **gated**: the token vector goes through two projections of {shape.d_model:,} → "
        f"{shape.d_ff:,}. One (the gate) passes through {shape.activation_label}, then multiplies the other element "
        "by element; W_down projects the product back. The 'activations' on this page are that product, the "
        "input of W_down."
    )
else:
    st.caption(
        f"The non-linearity sits between the two projections: {shape.d_model:,} numbers are mixed into "
        f"{shape.d_ff:,} by W_in, each of those goes through {shape.activation_label} on its own, and W_out mixes them "
        f"back into {shape.d_model:,}. Without it the two projections would collapse into one linear map. The "
        "'activations' on this page are the values right after the non-linearity, the input of W_out."
    )

# --- inside one layer ------------------------------------------------------------------------
st.subheader("Inside one layer")
state.clamp_choice("ffn_layer", info.n_layers)
cl, ce = st.columns([1, 2])
layer_index = cl.selectbox("Layer", range(info.n_layers), format_func=lambda i: f"layer {i + 1} of {info.n_layers}",
                           key="ffn_layer")
eps = ce.select_slider("'Near zero' means |activation| below", EPS_CHOICES, value=0.05, key="ffn_eps")
layer = trace.layers[layer_index]
acts = layer.ffn_activations
neurons = most_active_neurons(acts, HEATMAP_NEURONS)
st.markdown(f"**Activations of layer {layer_index + 1}**: your {n} tokens × the {neurons.size} most active of its "
            f"{shape.d_ff:,} neurons (largest |activation| on any token). Red is positive, blue negative.")
show_figure(views.activation_heatmap(acts[:, neurons], tokens.tokens, neurons), key="ffn_heatmap",
            name=f"ffn-activations-layer{layer_index + 1}")
cap = colour_cap(acts[:, neurons])
if cap.clipped:
    st.caption(f"The colours stop at ±{cap.limit:.2f} so that one outlier does not wash out the "
               f"rest: the largest value here is {cap.largest:.2f} "
               "(hover shows every value, uncapped, to 3 decimals).")
shares = near_zero_by_layer(trace, eps)
share = near_zero_share(acts, eps)
st.markdown(f"**Near zero after the non-linearity**: in layer {layer_index + 1}, **{share:.0%}** of the "
            f"{acts.size:,} activations ({n} tokens × {shape.d_ff:,} neurons) are within ±{eps:g}. "
            + _quiet_reading(acts, share, eps, shape.activation.lower().startswith("gelu") and not shape.gated))
h1, h2 = st.columns(2)
with h1:
    st.caption("Share near zero, per layer")
    show_figure(views.near_zero_bars(shares, layer_index, eps), key="ffn_zero_bars", name=f"ffn-near-zero-share-eps{eps:g}")
with h2:
    st.caption(f"All activations of layer {layer_index + 1} (0.1 % at each tail clipped)")
    counts, edges = activation_histogram(acts)
    show_figure(views.activation_histogram_figure(counts, edges, eps), key="ffn_histogram",
                name=f"ffn-histogram-layer{layer_index + 1}")
if second_trace is not None:
    second_shares = near_zero_by_layer(second_trace, eps)
    st.caption(f"Share near zero (|activation| < {eps:g}) per layer, compared model "
               f"({md_escape(second_trace.model.model_id)}, {second_trace.model.n_layers} layers, "
               f"{second_shape.d_ff:,} neurons each)")
    show_figure(views.near_zero_bars(second_shares, None, eps), key="ffn_zero_bars_compared",
                name=f"ffn-near-zero-share-eps{eps:g}-compared")
    st.caption(f"Over all layers: {near_zero_overall(trace, eps):.0%} here, {near_zero_overall(second_trace, eps):.0%} "
               "in the compared model.")
if shape.activation.lower().startswith("gelu") and not shape.gated:
    st.caption(f"GELU lets small negative values through (its minimum is about −0.17): the most negative value in "
               f"this layer is {lowest_activation(acts):.3f}. ReLU would cut every negative value to exactly 0.")

# --- one token, one neuron -------------------------------------------------------------------
st.subheader("One token, one neuron")
state.clamp_choice("ffn_token", n, default=min(1, n - 1))
t1, t2 = st.columns(2)
with t1:
    token_index = st.selectbox("Token", range(n), key="ffn_token", format_func=lambda i: f"{i}: {visible(tokens.tokens[i])}")
    top_ids, top_values = top_neurons_of_token(acts, token_index, TOP_K)
    st.markdown(f"The {top_ids.size} neurons of layer {layer_index + 1} that **{md_escape(tokens.tokens[token_index])}** "
                "fires most:")
    show_figure(views.neuron_bars(top_ids, top_values), key="ffn_token_neurons",
                name=f"ffn-top-neurons-layer{layer_index + 1}-token{token_index}")
with t2:
    if "ffn_neuron" not in st.session_state or not 0 <= int(st.session_state["ffn_neuron"]) < shape.d_ff:
        st.session_state["ffn_neuron"] = int(neurons[0]) if neurons.size else 0
    neuron = int(st.number_input(f"Neuron (0 – {shape.d_ff - 1:,})", min_value=0, max_value=shape.d_ff - 1, step=1,
                                 key="ffn_neuron"))
    st.caption("Try this token's top neurons: " + ", ".join(f"n{int(i)}" for i in top_ids[:4]) + ".")
    tok_ids, tok_values = top_tokens_of_neuron(acts, neuron, min(8, n))
    st.markdown(f"The tokens of your text that fire neuron **n{neuron}** most:")
    show_table(
        pd.DataFrame({
            "rank": np.arange(1, tok_ids.size + 1),
            "position": tok_ids,
            "token": [visible(tokens.tokens[i]) for i in tok_ids],
            "activation": zero_unsigned(np.round(tok_values, 4)),
        }),
        hide_index=True, width="stretch",
    )
show_figure(views.neuron_over_tokens(acts[:, neuron], tokens.tokens, highlight=tok_ids[:3]), key="ffn_neuron_tokens",
            name=f"ffn-neuron{neuron}-layer{layer_index + 1}")
firing = tokens_firing(acts, neuron, eps)
st.caption(f"Neuron n{neuron} of layer {layer_index + 1} on every token of your text (its three strongest in orange): "
           f"{firing} of the {n} tokens {'fires' if firing == 1 else 'fire'} it above {eps:g}, the 'near zero' "
           "threshold set above.")

# --- the residual stream ---------------------------------------------------------------------
st.subheader("The residual stream")
stream = residual_stream(trace)
st.caption(f"Normalisation in this model: {normalisation(info)}.")
if info.pre_norm:
    st.markdown(
        "Each sub-layer **adds** its output to the token's vector: x ← x + attention(norm(x)), then "
        "x ← x + FFN(norm(x)). This model normalises a copy before each sub-layer (pre-norm), so the stream "
        "itself is never rescaled and its norm can grow from layer to layer."
    )
else:
    st.markdown(
        "Each sub-layer adds its output to the token's vector and then a **LayerNorm** rescales the sum: "
        "x ← norm(x + attention(x)), then x ← norm(x + FFN(x)). Because of that norm (post-norm, as in BERT) "
        "the length cannot grow from layer to layer: each norm resets it to a size set by its own learned "
        f"weights (here lengths between {stream.norm_range[0]:.1f} and {stream.norm_range[1]:.1f}); what the "
        "sub-layers change is mostly the vector's direction."
    )
content = [i for i in range(n) if not tokens.special_mask[i]] or list(range(n))
default_shown = content[:8]
if n <= 10:
    shown = np.arange(n)
else:
    chosen = st.session_state.get("ffn_res_tokens")
    if chosen is None or not all(isinstance(i, (int, np.integer)) and 0 <= i < n for i in chosen):
        st.session_state["ffn_res_tokens"] = default_shown
    picked = st.multiselect("Tokens to draw", range(n), key="ffn_res_tokens",
                            format_func=lambda i: f"{i}: {visible(tokens.tokens[i])}", max_selections=20)
    shown = np.asarray(picked, dtype=int)
show_figure(views.residual_norms(stream, tokens.tokens, shown=shown), key="ffn_norms", name="residual-stream-norms")
st.markdown("**How much each sub-layer changed each token**: ‖vector after − vector before‖ / ‖vector before‖, "
            "per layer" + (" (including the LayerNorm that follows the addition)." if not info.pre_norm else "."))
zmax = stream.largest_change
a1, a2 = st.columns(2)
show_figure(views.change_heatmap(stream.attention_change, tokens.tokens, title="attention", zmax=zmax),
            key="ffn_change_attention", name="residual-change-attention", container=a1)
show_figure(views.change_heatmap(stream.ffn_change, tokens.tokens, title="feed-forward", zmax=zmax),
            key="ffn_change_ffn", name="residual-change-ffn", container=a2)
st.markdown("**What each sub-layer adds, layer by layer**: the norm of the attention output and of the FFN output, "
            "relative to the stream they are added to (mean over your tokens).")
show_figure(views.layer_change_bars(stream), key="ffn_layer_bars", name="residual-change-by-layer")
att, ffn = stream.mean_attention_update, stream.mean_ffn_update
st.caption(f"Averaged over all layers and tokens, attention adds a vector {att:.0%} as long as the stream and the "
           f"FFN one {ffn:.0%} as long.")
