"""Contrastive training: InfoNCE on a batch you can edit, a temperature slider, a few real
training steps on a private copy of the model, and why raw (untrained) weights embed poorly."""

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core import ExplorerError
from core.analysis.contrastive import MAX_PAIRS, MAX_STEPS, fine_tune, info_nce, untrained_twin
from core.analysis.similarity import diagonal_mean, off_diagonal_mean
from core.analysis.training_summary import before_after_projection, chance_level_loss
from ui import callbacks, state
from ui.common import stage_header
from ui.export import show_figure
from ui.figures import heatmap
from ui.hosting import host_settings
from ui.labels import md_escape, visible, zero_unsigned
from ui.progress_cache import digest
from ui.training_state import TRAINING_RUNS, batch_vectors
from ui.training_views import LABELLED_POINTS, loss_curve, projection_figure
from ui.tables import show_table

PAIRS_FILE = Path(__file__).resolve().parent.parent / "assets" / "examples" / "contrastive_pairs.tsv"
HELD_OUT_FILE = PAIRS_FILE.with_name("contrastive_heldout.tsv")
def default_pairs() -> pd.DataFrame:
    return pd.read_csv(PAIRS_FILE, sep="\t", dtype=str, keep_default_na=False)


def held_out_pairs(batch: list[tuple[str, str]], beyond: list[tuple[str, str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Pairs the copy never trains on: the editor's rows beyond the batch, then the bundled held-out pairs,
    leaving out any sentence the batch contains."""
    seen = {text for pair in batch for text in pair}
    bundled = pd.read_csv(HELD_OUT_FILE, sep="\t", dtype=str, keep_default_na=False)
    pairs = [(a, p) for a, p in [*beyond, *zip(bundled["anchor"], bundled["positive"])] if a not in seen and p not in seen]
    pairs = list(dict.fromkeys(pairs))[:MAX_PAIRS]
    return tuple(a for a, _ in pairs), tuple(p for _, p in pairs)


stage_header(
    "Training: contrastive learning",
    "Why do paraphrases land close together? Because the model was trained to make them. Each row below is an "
    "(anchor, positive) pair; every *other* positive in the batch is a negative for that anchor. The loss (InfoNCE, "
    "called MultipleNegativesRankingLoss in sentence-transformers) is a softmax over each row of the similarity "
    "matrix divided by a temperature τ, with the right answer on the diagonal.",
)
model = state.current_model()
if model is None:
    st.stop()
model_id, device = st.session_state[state.MODEL_KEY], st.session_state[state.DEVICE_KEY]

st.session_state.setdefault("con_pairs", default_pairs())
edited = st.data_editor(st.session_state["con_pairs"], num_rows="dynamic", width="stretch", key="con_editor",
                        column_config={"anchor": st.column_config.TextColumn("anchor", max_chars=300),
                                       "positive": st.column_config.TextColumn("positive", max_chars=300)})
rows = [(str(a or "").strip(), str(p or "").strip()) for a, p in zip(edited.get("anchor", []), edited.get("positive", []))]
rows = [(a, p) for a, p in rows if a and p]
if len(rows) < 2:
    st.warning("Give at least two complete (anchor, positive) pairs: each pair's partner is the others' negative.")
    st.stop()
beyond_batch = rows[MAX_PAIRS:]
if len(rows) > MAX_PAIRS:
    st.info(f"Only the first {MAX_PAIRS} pairs form the batch; training scores the rest as held-out pairs.")
    rows = rows[:MAX_PAIRS]
anchors = tuple(a for a, _ in rows)
positives = tuple(p for _, p in rows)
labels = [f"{i + 1}" for i in range(len(rows))]

temperature = st.slider("Temperature τ", 0.01, 1.0, 0.05, 0.01, key="con_temperature",
                        help="all-MiniLM-L6-v2, for one, was trained with scale 20, i.e. τ = 0.05. Lower τ sharpens "
                             "the softmax.")
try:
    a, b = batch_vectors(model_id, device, "trained", anchors, positives)
except ExplorerError as error:
    st.warning(md_escape(str(error)))
    st.stop()
result = info_nce(a, b, temperature)

c1, c2, c3 = st.columns(3)
c1.metric("InfoNCE loss (mean over rows)", f"{result.loss:.4f}",
          help="0 = every anchor picks its own positive with certainty; the chance level (right) = guessing among "
               "the batch's positives. Lower is better.")
c2.metric("rows whose best match is their own positive", f"{result.accuracy:.0%}")
c3.metric(f"chance-level loss ln({len(rows)})", f"{chance_level_loss(len(rows)):.3f}",
          help=f"The loss of a model that spreads each row evenly over the {len(rows)} positives of the batch (B = "
               f"{len(rows)} pairs).")
left, right = st.columns(2)
show_figure(heatmap(result.logits, x_labels=labels, y_labels=labels, colorscale="Viridis", zmid=None,
                    title=f"cosine / τ  (τ = {temperature:g})", x_title="positive", y_title="anchor",
                    hover="anchor %{y} · positive %{x}: %{z:.2f}", decimals=3, height=380),
            key="con_logits", name=f"infonce-logits-t{temperature:g}", container=left)
show_figure(heatmap(result.probabilities, x_labels=labels, y_labels=labels, colorscale="Blues", zmid=None, zmin=0, zmax=1,
                    title="softmax of each row: p(positive j | anchor i)", x_title="positive", y_title="anchor",
                    hover="anchor %{y} · positive %{x}: %{z:.3f}", decimals=4, height=380),
            key="con_probs", name=f"infonce-probabilities-t{temperature:g}", container=right)
show_table(pd.DataFrame({"#": labels, "anchor": [visible(x, False) for x in anchors], "positive": [visible(x, False) for x in positives],
                           "cos(anchor, positive)": zero_unsigned(np.round(np.diag(result.similarity), 4)),
                           "p(correct)": np.round(np.diag(result.probabilities), 4),
                           "row loss −log p": np.round(result.row_losses, 4)}), hide_index=True, width="stretch")

st.subheader("Why raw weights make poor sentence embeddings")
st.markdown("The same batch scored by a model of the **same architecture** with random, untrained weights (built offline from "
            "the config): what the architecture gives on its own, against what training added. (An MLM-only BERT, trained "
            "only to fill in masked words, sits in between; load bert-base-uncased in the sidebar's model list, where "
            "it is available, to compare" + (", after leaving presentation mode" if st.session_state.get("present") else "")
            + ".)")
ua, ub = batch_vectors(model_id, device, "untrained", anchors, positives)
raw = info_nce(ua, ub, temperature)
compare = pd.DataFrame({
    "model": [f"{model.info.model_id} (trained)", "same architecture, random weights"],
    "loss": [round(result.loss, 4), round(raw.loss, 4)],
    "right positive ranked first": [f"{result.accuracy:.0%}", f"{raw.accuracy:.0%}"],
    "mean cos on the diagonal": [zero_unsigned(round(diagonal_mean(result.similarity), 4)), round(diagonal_mean(raw.similarity), 4)],
    "mean cos off the diagonal": [zero_unsigned(round(off_diagonal_mean(result.similarity), 4)), round(off_diagonal_mean(raw.similarity), 4)],
})
show_table(compare, hide_index=True, width="stretch")
trained_gap = diagonal_mean(result.similarity) - off_diagonal_mean(result.similarity)
raw_gap = diagonal_mean(raw.similarity) - off_diagonal_mean(raw.similarity)
st.caption(
    f"Read the gap between the two cosine columns, not the cosines alone: matching pairs against the rest, "
    f"{trained_gap:.2f} for the trained model and {raw_gap:.2f} for random weights. "
    + (f"Random weights put every sentence close to every other (cosine {off_diagonal_mean(raw.similarity):.2f} "
       "for pairs that do not belong together), so a right partner barely stands out. "
       if raw_gap < trained_gap / 2 and off_diagonal_mean(raw.similarity) > 0.5 else "")
    + f"Chance would rank the right positive first in {1 / len(rows):.0%} of the rows."
)

st.subheader("Train it: a few real steps, live")
step_cap = min(MAX_STEPS, host_settings().max_training_steps)  # the host may set a lower cap for a class
st.markdown(f"Runs AdamW on this batch for a few steps on a **private copy** of the weights (the model other visitors use never "
            f"changes), at most {step_cap} steps and {MAX_PAIRS} pairs so a hosted app cannot be kept busy.")
t1, t2, t3 = st.columns(3)
start_from = t1.radio("Start from", ["random weights (watch it learn)", "the loaded model"], key="con_start")
if st.session_state.get("con_steps", 0) > step_cap:
    st.session_state["con_steps"] = step_cap
steps = t2.slider("Steps", 1, step_cap, min(15, step_cap), key="con_steps")
learning_rate = t3.select_slider("Learning rate", [1e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3], value=2e-4 if start_from.startswith("random") else 5e-5,
                                 key="con_lr")
held_anchors, held_positives = held_out_pairs(rows, beyond_batch)
if st.button("Train", type="primary", key="con_train"):
    st.session_state["con_request"] = (digest(anchors + positives), start_from, steps, learning_rate, temperature)
request = st.session_state.get("con_request")
if request and request[0] == digest(anchors + positives):
    key = (model_id, device, *request, digest(held_anchors + held_positives))
    bar = st.progress(0.0, text="Training…")
    stop_slot = st.empty()
    stop_slot.button("Stop", key="con_stop", on_click=callbacks.forget, args=("con_request",))

    def progress(step, total, loss):
        bar.progress(step / total, text=f"step {step}/{total} · loss {loss:.4f}")

    from_random = request[1].startswith("random")
    held_out = (held_anchors, held_positives) if len(held_anchors) >= 2 else None
    try:
        trained = TRAINING_RUNS.get_or_compute(key, lambda: fine_tune(untrained_twin(model, seed=0) if from_random else model,
                                                                  anchors, positives, steps=request[2],
                                                                  learning_rate=request[3], temperature=request[4],
                                                                  progress=progress, held_out=held_out))
    except ExplorerError as error:
        st.warning(md_escape(str(error)))
        st.stop()
    bar.empty()
    stop_slot.empty()
    n = len(rows)
    st.success(f"{len(trained.losses)} steps in {trained.seconds:.1f} s · loss on the {n} training pairs themselves: "
               f"{trained.before.loss:.4f} → {trained.after.loss:.4f}")
    scores = [("the training batch (trained on)", n, trained.before, trained.after)]
    if trained.held_out_before is not None:
        scores.append(("held-out pairs (never trained on)", len(held_anchors), trained.held_out_before, trained.held_out_after))
    show_table(pd.DataFrame({
        "pairs": [name for name, *_ in scores],
        "count": [count for _, count, *_ in scores],
        "loss before": [round(before.loss, 4) for *_, before, _ in scores],
        "loss after": [round(after.loss, 4) for *_, after in scores],
        "right positive first, before": [f"{before.accuracy:.0%}" for *_, before, _ in scores],
        "right positive first, after": [f"{after.accuracy:.0%}" for *_, after in scores],
        "chance-level loss ln(count)": [round(chance_level_loss(count), 3) for _, count, *_ in scores],
    }), hide_index=True, width="stretch")
    held_text = ""
    if trained.held_out_before is not None:
        change = trained.held_out_after.loss - trained.held_out_before.loss
        held_text = (f" On the {len(held_anchors)} held-out pairs, which it never trained on, the loss went "
                     f"{trained.held_out_before.loss:.4f} → {trained.held_out_after.loss:.4f} "
                     f"({'down' if change < 0 else 'up'} {abs(change):.4f}): that is what carries over to new text.")
    st.caption(f"The training loss is measured on the same {n} pairs the copy trains on, so a loss near zero means it "
               f"has memorised these pairs, not that it learned general meaning." + held_text)
    show_figure(loss_curve(trained.losses), key="con_curve", name="training-loss")
    c1, c2 = st.columns(2)
    for column, title, res in ((c1, "cosine before", trained.before), (c2, "cosine after", trained.after)):
        show_figure(heatmap(res.similarity, x_labels=labels, y_labels=labels, zmin=-1, zmax=1, title=title,
                            x_title="positive", y_title="anchor", decimals=3, height=340),
                    key=f"con_{title}", name=f"training-{title}", container=column)
    points = before_after_projection(trained.anchor_vectors_before, trained.positive_vectors_before,
                                     trained.anchor_vectors_after, trained.positive_vectors_after)
    show_figure(projection_figure(points, anchors, positives), key="con_projection", name="training-projection")
    st.caption("Colour = pair, circle = anchor, diamond = positive, open = before training, filled = after."
               + (" Labels show on hover (too many points to print them all)." if 4 * n > LABELLED_POINTS else ""))
