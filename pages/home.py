"""Overview: the text traced through the whole model, stage by stage, with live shapes."""

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis.vector_stats import l2_norm
from ui import classroom, state
from ui.common import model_caption, truncation_notice
from ui.export import show_figure
from ui.figures import vector_bar
from ui.labels import md_escape, visible
from ui.page_list import tour_pages
from core.models.family_notes import position_scheme
from ui.tokens import show_chips
from ui.tables import show_table

st.title("Embedding Explorer")
st.markdown(
    "`model.encode(text)` turns text into a vector. This app opens that call up and shows every stage "
    "on a real model, computed live from **your** text: tokenization, the embedding-table lookup, "
    f"position information, attention, the feed-forward network and pooling. Type in {classroom.text_box_place()}; "
    "every page follows."
)

if not st.session_state.get("tour_on"):
    classroom.start_tour_button()
with st.expander(f"Teacher's script: the tour's {len(tour_pages())} steps, what to say and what to click"):
    st.markdown("\n".join(f"{number}. **{page.tour_title}**: {page.teacher_script}"
                           for number, page in enumerate(tour_pages(), start=1)))
    st.caption("Before class: turn on *Presentation mode* (sidebar, or ?present=1 in the link) for large type; "
               "*Your text* and *Pages* stay in the bar at the top.")

trace = state.current_trace()
if trace is not None:
    info = trace.model
    model_caption(trace)
    truncation_notice(trace)
    tokens = trace.tokens
    n, d = len(tokens), info.d_model
    st.subheader("Your text, token by token")
    show_chips(tokens, title="tokens of your text")
    show_table(
        pd.DataFrame(
            {
                "position": np.arange(n),
                "token": [visible(t) for t in tokens.tokens],
                "id": tokens.input_ids,
                "from text": ["(special)" if s else visible(tokens.source_text(i)) for i, s in enumerate(tokens.special_mask)],
            }
        ),
        hide_index=True,
        width="stretch",
    )

    st.subheader("The shape at each stage")
    pooled_name = trace.native_pooling
    stages = pd.DataFrame(
        [
            ("1 · Tokenization", f"{tokens.space_word_count} words → {n} tokens", f"[{n}] token strings"),
            ("  token ids", f"{n} ids from a vocabulary of {info.vocab_size:,}", f"[{n}] integers"),
            ("2 · Embedding lookup", f"each id picks its row of the {info.vocab_size:,} × {d} table", f"[{n} × {d}]"),
            ("3 · Position information", position_scheme(info.position_kind, short=True), f"[{n} × {d}]"),
            ("4 · Self-attention", f"{info.n_layers} layers × {info.n_heads} heads, each a {n} × {n} map",
             f"[{info.n_heads} × {n} × {info.d_head}] per query/key/value"),
            ("5 · Feed-forward", f"{d} → {info.d_ff} → {d} per token", f"[{n} × {info.d_ff}] inside"),
            ("6 · Pooling", f"{pooled_name} over {n} token vectors" + (", then L2-normalised" if info.normalizes and not info.dense_layers else ""), f"[{d}]"),
            *[(f"  {stage.name}", "a learned linear layer on the sentence vector" if stage.name.startswith("Dense")
               else "scale to length 1", f"[{stage.vector.size}]") for stage in trace.pipeline_stages[1:] if info.dense_layers],
        ],
        columns=["stage", "what happens", "shape"],
    )
    show_table(stages, hide_index=True, width="stretch")

    st.subheader("The final embedding")
    vector = trace.native_embedding
    cols = st.columns(3)
    cols[0].metric("dimensions", f"{vector.size}")
    cols[1].metric("L2 norm", f"{l2_norm(vector):.4f}",
                   help="The vector's length: this model scales its vectors to length 1 (normalises them), so only "
                        "the direction counts."
                   if info.normalizes else "The vector's length (this model does not scale its vectors to length 1).")
    cols[2].metric("pooling", pooled_name + (f" + {len(info.dense_layers)} Dense" if info.dense_layers else "")
                   + (" + normalise" if info.normalizes else ""))
    show_figure(vector_bar(vector), key="home_embedding", name="final-embedding")
    st.caption(
        f"This is what sentence-transformers' `encode` returns for this text with {md_escape(info.model_id)}; "
        "every number above was computed just now from the loaded model."
    )
