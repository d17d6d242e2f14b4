"""Putting it all together: one sentence through all six stages, with live shapes, and the
check that the explorer's own hand-built pipeline reproduces encode()."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import ExplorerError
from core.analysis.reconstruction import reconstruct
from ui import state
from ui.common import model_caption, stage_header, truncation_notice
from ui.export import show_figure
from ui.labels import md_escape

STAGE_PAGES = [  # (short link label that fits under its box, the page's full name, path)
    ("Tokenization", "Tokenization", "pages/tokenization.py"),
    ("Lookup", "Embedding lookup", "pages/embedding_lookup.py"),
    ("Positions", "Positional encoding", "pages/positional_encoding.py"),
    ("Attention", "Attention", "pages/attention.py"),
    ("Feed-forward", "Feed-forward", "pages/feed_forward.py"),
    ("Pooling", "Pooling and similarity", "pages/pooling.py"),
]


@st.cache_resource(max_entries=2, show_spinner="Loading sentence-transformers for the independent check…")
def sentence_transformer(source_dir: str, device: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(source_dir, device=device)


@st.cache_data(max_entries=32, show_spinner=False)
def reference_encode(source_dir: str, device: str, text: str) -> np.ndarray:
    return sentence_transformer(source_dir, device).encode(text, normalize_embeddings=False)


stage_header("Putting it all together", "One sentence, start to finish: every stage of `model.encode(text)` with the shapes "
             "your text has at each step. The links under the diagram open each stage's page.")
trace = state.current_trace()
if trace is None:
    st.stop()
info = trace.model
model_caption(trace)
truncation_notice(trace)
n, d = len(trace.tokens), info.d_model
boxes = [
    ("text", f"{len(trace.text):,} characters"),
    ("1 · tokens", f"{n} tokens"),
    ("2 · ids → rows", f"{n} × {d}"),
    ("3 · + positions", f"{n} × {d}" if info.position_kind != "rope" else "RoPE in Q, K"),
    ("4 · attention ×" + str(info.n_layers), f"{info.n_heads} heads · {n} × {n}"),
    ("5 · feed-forward", f"{d} → {info.d_ff} → {d}"),
    ("6 · pooling", f"{trace.native_pooling} → {d}"),
]
figure = go.Figure()
for index, (title, shape) in enumerate(boxes):
    figure.add_shape(type="rect", x0=index * 1.2, x1=index * 1.2 + 1, y0=0, y1=1, line=dict(color="#3d6fb6"), fillcolor="#eef4fb")
    figure.add_annotation(x=index * 1.2 + 0.5, y=0.68, text=f"<b>{title}</b>", showarrow=False, font=dict(size=13))
    figure.add_annotation(x=index * 1.2 + 0.5, y=0.32, text=shape, showarrow=False, font=dict(size=12, color="#444"))
    if index:
        figure.add_annotation(x=index * 1.2, y=0.5, ax=index * 1.2 - 0.2, ay=0.5, xref="x", yref="y", axref="x", ayref="y",
                              showarrow=True, arrowhead=3, text="")
figure.update_xaxes(visible=False, range=[-0.1, len(boxes) * 1.2])
figure.update_yaxes(visible=False, range=[-0.1, 1.1])
figure.update_layout(height=160, margin=dict(l=0, r=0, t=0, b=0), plot_bgcolor="white")
show_figure(figure, config={"staticPlot": True}, key="pipe_diagram", name="pipeline-diagram")
links = st.columns(len(boxes))  # one column per box: each stage's link sits under its box ("text" has none)
for number, (column, (label, name, path)) in enumerate(zip(links[1:], STAGE_PAGES), start=1):
    column.page_link(path, label=f"{number} · {label}", help=f"Open {number} · {name}")

st.subheader("The reconstruction check")
st.markdown("The explorer rebuilds the embedding by hand from the model's weights: look up the rows, add the position rows, "
            "LayerNorm, run each block, pool, normalise. It must give the vector `SentenceTransformer.encode` gives.")
model = state.current_model()
try:
    rebuilt = reconstruct(model, trace.text)
except ExplorerError as error:
    st.info(md_escape(str(error)))
else:
    st.dataframe(pd.DataFrame([(s.name, " × ".join(map(str, s.shape)), s.description) for s in rebuilt.steps],
                              columns=["step", "shape", "what it does"]), hide_index=True, width="stretch")
    comparisons = {"the traced forward pass (native pooling)": trace.native_embedding}
    if info.native_pooling is not None:
        try:
            encoded = reference_encode(model.source_dir, info.device, trace.text)
            comparisons["SentenceTransformer.encode"] = encoded
        except Exception as error:  # noqa: BLE001 - the check is optional; say why it is missing
            st.caption(f"sentence-transformers could not load this model for the check ({type(error).__name__}).")
    cols = st.columns(len(comparisons))
    for column, (name, vector) in zip(cols, comparisons.items()):
        column.metric(f"largest |difference| vs {name}", f"{np.abs(rebuilt.embedding - vector).max():.2e}")
    st.caption("Differences around 1e-7 are float32 rounding: the same numbers, computed in a different order.")

st.subheader("A pair, end to end")
other = st.text_input("Compare your text with", value="A feline rested on the rug", key="pipe_other", max_chars=2000)
try:
    second = state.cached_trace(st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY], other)
except ExplorerError as error:
    st.warning(md_escape(str(error)))
else:
    truncation_notice(second, whose="The text to compare with")
    a, b = trace.native_embedding, second.native_embedding
    cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    reading = ("nearly the same meaning" if cosine > 0.8 else "closely related" if cosine > 0.55 else
               "somewhat related" if cosine > 0.3 else "mostly unrelated")
    st.metric("cosine similarity", f"{cosine:.4f}")
    st.markdown(f"For {md_escape(info.model_id)} this reads as **{reading}**: scores are relative; what matters for search "
                "is the ranking against other candidates, not the absolute number.")
