"""Stage 1 · Tokenization: the text as the model's tokens, next to GPT-2's byte-level BPE, the
cut at max_seq_length that pipelines never show, chunks that fit, and the vocabulary itself.
Tokens and ids come from the cached trace of the current text (no forward pass here)."""

import pandas as pd
import streamlit as st

from core import ExplorerError, gpt2_tokenizer, tokenize
from core.text.vocabulary import (
    chunk_document,
    id_to_token,
    special_tokens,
    split_by_words,
    split_pieces_equal,
    token_to_id,
    vocabulary_size,
)
from ui import callbacks, classroom, state
from ui.tables import show_table
from ui.common import model_caption, stage_header, truncation_notice
from ui.labels import md_escape, visible
from ui.tokenization_views import (
    LONG_EXAMPLE,
    chips_with_words_html,
    dropped_chips_html,
    legend_html,
    readable,
    special_roles,
    truncated_document_html,
)

CHIP_LIMIT = 300          # chips drawn for the model's tokens (counts always cover the whole text)
SIDE_CHIP_LIMIT = 120     # chips drawn per tokenizer in the side-by-side comparison
WORD_TABLE_LIMIT = 200    # words in the word-by-word table
ARTICLE_TOKENS = ["the", "cat", "sat", "un", "##happily"]
ARTICLE_IDS = [101, 1996, 4937, 2938, 4895, 26510, 8512, 102]


def _continuation_mark(algorithm: str) -> str:
    return "## pieces" if algorithm == "WordPiece" else "no Ġ / ▁ in front" if "BPE" in algorithm else "inside a word"


model = state.current_model()
trace = state.current_trace() if model is not None else None
info = model.info if model is not None else None

if trace is not None:
    n = trace.n_tokens
    cut = trace.tokens.truncation
    read = f" (all the window holds; the whole text needs {cut.total_tokens:,})" if cut.truncated else ""
    words, pieces = trace.tokens.space_word_count, trace.tokens.word_count
    split_off = f" ({pieces} once the tokenizer splits off punctuation)" if pieces != words else ""
    shapes = (f"{words} words{split_off} → {n} tokens{read} → {n} ids "
              f"→ the next stage looks up {n} rows of {info.d_model} numbers: {n} × {info.d_model}")
else:
    shapes = None
stage_header(
    "1 · Tokenization",
    "Before any neural network runs, the text is cut into **tokens**: whole common words, and pieces of "
    "rarer ones. Each token is a row number (**id**) in the model's vocabulary. The tokenizer also adds "
    "**special tokens** of its own (BERT's `[CLS]` at the start and `[SEP]` at the end). The model never "
    "sees letters, only this list of ids, and only as many of them as its window holds.",
    shapes,
)
if model is None:
    st.stop()

roles = special_roles(special_tokens(model.tokenizer))

# -- 1 · the text as tokens ----------------------------------------------------------------------
st.subheader("Your text, as the model splits it")
if trace is not None:
    model_caption(trace)
    truncation_notice(trace)
    st.html(legend_html(_continuation_mark(info.tokenizer_algorithm)))
    st.html(chips_with_words_html(trace.tokens, limit=CHIP_LIMIT, title="tokens of your text", special_roles=roles))
    with st.expander("The article's example, and what this tokenizer really does"):
        try:
            real = tokenize(model.tokenizer, "The cat sat unhappily", info.max_seq_length)
            st.markdown("The article, for *The cat sat unhappily* with bert-base-uncased, prints:")
            st.code(f"{ARTICLE_TOKENS}\n{ARTICLE_IDS}", language=None)
            st.markdown(f"This model's {info.tokenizer_algorithm} tokenizer, run just now on the same sentence:")
            st.code(f"{list(real.tokens)}\n{real.input_ids.tolist()}", language=None)
            if list(real.tokens[1:-1]) != ARTICLE_TOKENS:
                st.caption("They differ (and the article's own ids do not match its tokens). The page always shows what the "
                           "loaded tokenizer does, not what the article printed.")
        except ExplorerError as error:
            st.warning(md_escape(str(error)))

# -- 2 · tokenizers side by side ---------------------------------------------------------------------
second = state.compare_model()  # "Compare with…" in the sidebar: its tokenizer joins the comparison
st.subheader("Two tokenizers, same text" if second is None else "Three tokenizers, same text")
text = st.session_state.get(state.TEXT_KEY, "")
try:
    gpt2 = gpt2_tokenizer()
    # (heading, pieces column, short name, split, tokenizer) per tokenizer: this model, the compared one, GPT-2's BPE
    splits = [(f"This model: {info.tokenizer_algorithm}", info.tokenizer_algorithm, "model",
               split_by_words(model.tokenizer, text, info.tokenizer_algorithm), model.tokenizer)]
    if second is not None:
        splits.append((f"Compared: {second.info.model_id} · {second.info.tokenizer_algorithm}",
                       f"compared ({second.info.tokenizer_algorithm})", "compared",
                       split_by_words(second.tokenizer, text, second.info.tokenizer_algorithm), second.tokenizer))
    splits.append(("GPT-2: byte-level BPE", "GPT-2 BPE", "GPT-2", split_by_words(gpt2, text, "GPT-2 byte-level BPE"), gpt2))
except ExplorerError as error:
    splits = []
    st.info(f"Nothing to compare yet: type a sentence in {classroom.text_box_place()}." if not text.strip() else md_escape(str(error)))
if splits:
    st.markdown(
        "The same characters, cut by different vocabularies. WordPiece marks a piece that continues a word with `##`; "
        "GPT-2's byte-level BPE marks a piece that *starts* a word with `Ġ` (a space), so a piece without `Ġ` "
        "continues the word before it. Byte-level BPE never meets an unknown character: anything outside its "
        "vocabulary is spelled byte by byte."
    )
    columns = st.columns(len(splits))
    for column, (title, _, _, split, tokenizer) in zip(columns, splits):
        with column:
            st.markdown(f"**{md_escape(title)}**")
            # Short labels: three tokenizers side by side leave each metric about 90 px at 1400 px wide.
            metrics = st.columns(3)
            metrics[0].metric("words", f"{split.n_words:,}", help="space-separated words, the same count for every tokenizer")
            metrics[1].metric("tokens", f"{split.n_tokens:,}",
                              help="tokens for the words, special tokens not counted"
                                   + (f": this tokenizer adds {split.n_special} of those to every text on top "
                                      f"({split.n_tokens + split.n_special:,} in all)" if split.n_special else
                                      ": this tokenizer adds none"))
            metrics[2].metric("per word", f"{split.tokens_per_word:.2f}",
                              help="tokens per word: the tokens for the words divided by the words")
            if split.n_special:
                st.caption(f"Tokens for the words; +{split.n_special} special tokens on top.")
            try:
                shown = tokenize(tokenizer, text, SIDE_CHIP_LIMIT + 8)
                st.html(chips_with_words_html(shown, limit=SIDE_CHIP_LIMIT, title=title,
                                              special_roles=special_roles(special_tokens(tokenizer))))
            except ExplorerError as error:
                st.warning(md_escape(str(error)))
    model_split = splits[0][3]
    rows = []
    for index, (start, end) in enumerate(model_split.word_spans[:WORD_TABLE_LIMIT]):
        row = {"word": visible(text[start:end])}
        for _, column_name, _, split, _ in splits:
            row[column_name] = " · ".join(visible(p) for p in split.pieces[index])
        for _, _, short, split, _ in splits:
            row[f"tokens ({short})"] = len(split.pieces[index])
        if second is not None:
            row["same split"] = split_pieces_equal(splits[0][3].pieces[index], splits[1][3].pieces[index])
        rows.append(row)
    show_table(pd.DataFrame(rows), hide_index=True, width="stretch", height=min(400, 38 + 35 * len(rows)))
    if model_split.n_words > WORD_TABLE_LIMIT:
        st.caption(f"The table shows the first {WORD_TABLE_LIMIT} of {model_split.n_words:,} words; "
                   "the counts above cover all of them.")
    if second is not None:
        differ = sum(not split_pieces_equal(a, b) for a, b in zip(splits[0][3].pieces, splits[1][3].pieces))
        st.caption(f"The two models split {differ:,} of the {model_split.n_words:,} words differently "
                   "(pieces compared without their continuation marks, lower-cased).")
    per_word = ", ".join(f"{split.tokens_per_word:.2f} with {'GPT-2' if short == 'GPT-2' else 'the compared model' if short == 'compared' else 'this model'}"
                         for _, _, short, split, _ in splits)
    st.caption(f"The article: “a 400-word technical document might produce 600+ tokens” (1.5 tokens per word). Your "
               f"text, in tokens per word: {per_word} (1.00 would mean every word is one whole token).")

# -- 3 · the truncation reveal ------------------------------------------------------------------
st.subheader(f"Where the model stops reading: max_seq_length = {info.max_seq_length:,}")
window_note = f"{info.max_seq_length:,} tokens, special tokens included ({info.max_seq_length_source})"
if info.tokenizer_max_length and info.tokenizer_max_length != info.max_seq_length:
    window_note += (f"; the tokenizer alone would allow {info.tokenizer_max_length:,}, but the model's own pipeline "
                    f"stops at {info.max_seq_length:,}")
st.markdown(
    f"The model reads a fixed window: {window_note}. Whatever comes after is dropped before the model "
    "runs, with no error: the vector describes only the beginning. This is the silent failure of RAG chunking "
    "(cutting documents into pieces for a search whose results a chatbot then reads)."
)
st.caption(f"The article: “most embedding models cap at 512 tokens (BERT) or 128–512 tokens (all-MiniLM-L6-v2)”. "
           f"The loaded model, read from its own files: {info.max_seq_length:,}.")
if trace is not None:
    cut = trace.tokens.truncation
    if cut.truncated:
        st.warning(
            f"Your text needs {cut.total_tokens:,} tokens; the model reads {cut.kept_tokens:,} and drops the last "
            f"{cut.dropped_count:,} ({cut.dropped_count / cut.total_tokens:.0%} of the text's tokens, from character "
            f"{cut.cut_at_char:,} of {len(trace.text):,}). Nothing greyed below is in the embedding."
        )
        st.html(dropped_chips_html(trace.tokens))
        st.html(truncated_document_html(trace.text, cut.cut_at_char))
    else:
        st.success(f"Your text fits: {cut.total_tokens:,} of {cut.max_length:,} tokens. Paste a long document into "
                   f"{classroom.text_box_place()} to see where it would be cut, or load an example.")
        st.button("Load a long example document (≈ 330 words)", key="tok_long_example", on_click=callbacks.set_values, args=({state.TEXT_KEY: LONG_EXAMPLE},))

    st.markdown("**Chunks that fit.** Split the document into consecutive windows of at most "
                f"{info.max_seq_length:,} tokens each (special tokens included), ending at word boundaries; "
                "a small overlap repeats the last tokens of a chunk at the start of the next.")
    overlap = st.slider("Overlap between chunks (tokens)", 0, min(64, info.max_seq_length // 4), 0, key="tok_chunk_overlap")
    try:
        chunks = chunk_document(model.tokenizer, text, info.max_seq_length, overlap=overlap)
    except ExplorerError as error:
        chunks = []
        st.warning(md_escape(str(error)))
    if chunks:
        st.caption(f"{len(chunks)} chunk{'s' if len(chunks) != 1 else ''}; every one was re-tokenized on its own and fits.")
        show_table(
            pd.DataFrame({
                "chunk": [c.index + 1 for c in chunks],
                "tokens": [c.n_tokens for c in chunks],
                "characters": [f"{c.start_char:,}–{c.end_char:,}" for c in chunks],
                "starts with": [readable(c.text[:60]) + ("…" if len(c.text) > 60 else "") for c in chunks],
                "ends with": [("…" if len(c.text) > 40 else "") + readable(c.text[-40:]) for c in chunks],
            }),
            hide_index=True, width="stretch", height=min(380, 38 + 35 * len(chunks)),
        )

# -- 4 · the vocabulary -------------------------------------------------------------------------
st.subheader("The vocabulary")
size = vocabulary_size(model.tokenizer)
cols = st.columns(3)
cols[0].metric("vocabulary size", f"{size:,}")
cols[1].metric("embedding-table rows", f"{info.vocab_size:,}",
               help="One row per id; a table can have a few spare rows beyond the tokenizer's ids.")
cols[2].metric("algorithm", info.tokenizer_algorithm)
specials = special_tokens(model.tokenizer)
show_table(pd.DataFrame({"special token": [visible(s.token) for s in specials], "id": [s.id for s in specials],
                           "role": [s.role for s in specials]}), hide_index=True, width="stretch")

left, right = st.columns(2)
with left:
    st.session_state.setdefault("tok_lookup_id", 4937 if size > 4937 else 0)
    token_id = st.number_input("id → token", min_value=0, step=1, key="tok_lookup_id",
                               help=f"Any id from 0 to {size - 1:,}")
    try:
        st.code(visible(id_to_token(model.tokenizer, token_id)), language=None)
    except ExplorerError as error:
        st.warning(md_escape(str(error)))
with right:
    st.session_state.setdefault("tok_lookup_token", "cat")
    query = st.text_input("token → id", key="tok_lookup_token", max_chars=200,
                          help="Exact vocabulary spelling: e.g. cat, ##ing (WordPiece) or Ġworld (GPT-2 style)")
    try:
        found = token_to_id(model.tokenizer, query)
        if found.id is not None:
            st.code(f"{visible(found.query)} → {found.id}", language=None)
        else:
            st.info(f"“{md_escape(found.query)}” is not one entry of this vocabulary.")
        pieces = " · ".join(f"{md_escape(p)} ({i})" for p, i in zip(found.pieces, found.piece_ids))
        st.caption(f"Typed as text it becomes: {pieces or '(nothing: the tokenizer drops these characters)'}")
    except ExplorerError as error:
        st.warning(md_escape(str(error)))
