"""Putting it all together: one sentence through all six stages, with live shapes, and the
check that the explorer's own hand-built pipeline reproduces encode()."""

import pandas as pd
import streamlit as st

from core import ExplorerError
from core.analysis.reconstruction import reconstruct
from core.analysis.similarity import cosine
from core.pipeline.similarity import SIMILARITY_LABELS, similarity
from core.analysis.vector_stats import max_abs_difference
from ui import state
from ui.common import model_caption, stage_header, truncation_notice
from ui.export import show_figure
from ui.labels import e_notation_meaning, gap_number, md_escape, signed_number
from ui.page_list import stage_pages
from ui.pipeline_state import reference_encode
from ui.pipeline_views import stage_diagram
from ui.tables import show_table


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
    ("3 · + positions", {"rope": "RoPE in Q, K", "relative": "bias on scores"}.get(info.position_kind, f"{n} × {d}")),
    ("4 · attention ×" + str(info.n_layers), f"{info.n_heads} heads · {n} × {n}"),
    ("5 · feed-forward", f"{d} → {info.d_ff} → {d}"),
    ("6 · pooling", f"{trace.native_pooling} → {trace.native_embedding.size}" + (" (Dense)" if info.dense_layers else "")),
]
show_figure(stage_diagram(boxes), config={"staticPlot": True}, key="pipe_diagram", name="pipeline-diagram")
links = st.columns(len(boxes))  # one column per box: each stage's link sits under its box ("text" has none)
for number, (column, page) in enumerate(zip(links[1:], stage_pages()), start=1):
    column.page_link(page.path, label=f"{number} · {page.link_label}", help=f"Open {number} · {page.name}")

st.subheader("The reconstruction check")
st.markdown("The explorer rebuilds the embedding by hand from the model's weights: look up the rows, add the position rows, "
            "LayerNorm, run each block, pool, normalise. It must give the vector `SentenceTransformer.encode` gives.")
model = state.current_model()
try:
    rebuilt = reconstruct(model, trace.text)
except ExplorerError as error:
    st.info(md_escape(str(error)))
else:
    show_table(pd.DataFrame([(s.name, " × ".join(map(str, s.shape)), s.description) for s in rebuilt.steps],
                              columns=["step", "shape", "what it does"]), hide_index=True, width="stretch")
    comparisons = {"the traced forward pass (native pooling)": trace.native_embedding}
    if info.native_pooling is not None:
        # sentence-transformers and its own copy of the model cost the server ~80 MB, so the independent
        # check loads them when a visitor asks (then once per server), and keeps checking this visitor's texts.
        if st.session_state.get("pipe_st_check"):
            st.session_state["_pipe_st_checking"] = True
        if not st.session_state.get("_pipe_st_checking"):
            st.button("Check against SentenceTransformer.encode", key="pipe_st_check", icon=":material/fact_check:",
                      help="Loads sentence-transformers with its own copy of the model and encodes your text with it: "
                           "an independent reference, not this app's code. The first check on a server takes a few seconds.")
        else:
            try:
                encoded = reference_encode(model.source_dir, info.device, trace.text)
                comparisons["SentenceTransformer.encode"] = encoded
            except Exception as error:  # noqa: BLE001 - the check is optional; say why it is missing
                st.caption(f"sentence-transformers could not load this model for the check ({type(error).__name__}).")
    cols = st.columns(len(comparisons))
    for column, (name, vector) in zip(cols, comparisons.items()):
        column.metric(f"largest |difference| vs {name}", gap_number(max_abs_difference(rebuilt.embedding, vector), 2))
    largest = max(max_abs_difference(rebuilt.embedding, vector) for vector in comparisons.values())
    st.caption(f"Differences around 1e-7 (0.0000001) are float32 rounding: the same numbers, computed in a different "
               f"order. Here: {e_notation_meaning(largest)}." if largest < 1e-5 else
               f"The largest difference, {e_notation_meaning(largest)}, is more than float32 rounding (around 1e-7, "
               "0.0000001): the two computations took different paths on this device.")

st.subheader("A pair, end to end")
other = st.text_input("Compare your text with", value="A feline rested on the rug", key="pipe_other", max_chars=2000)
try:
    second = state.cached_trace(st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY], other)
except ExplorerError as error:
    st.warning(md_escape(str(error)))
else:
    truncation_notice(second, whose="The text to compare with")
    pair_cosine = cosine(trace.native_embedding, second.native_embedding)
    reading = ("nearly the same meaning" if pair_cosine > 0.8 else "closely related" if pair_cosine > 0.55 else
               "somewhat related" if pair_cosine > 0.3 else "mostly unrelated")  # the rough bands, said on the page
    st.metric("cosine similarity", signed_number(pair_cosine, 4),
              help="How alike the two embeddings' directions are: 1 = the same, 0 = unrelated, −1 = opposite.")
    if info.similarity_fn_name != "cosine":  # what this model's own pipeline compares with
        st.metric(f"this model's own similarity ({SIMILARITY_LABELS[info.similarity_fn_name]})",
                  signed_number(similarity(trace.native_embedding, second.native_embedding, info.similarity_fn_name), 4))
    st.markdown(f"On a rough scale for sentence models (above 0.8 nearly the same meaning, 0.55–0.8 closely related, "
                f"0.3–0.55 somewhat related, below that mostly unrelated) this pair reads as **{reading}**. The bands "
                f"are a rule of thumb, not {md_escape(info.model_id)}'s own: scores are relative, and what matters for "
                "search is the ranking against other candidates, not the absolute number.")
