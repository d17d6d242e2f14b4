"""The app's pages, once: the navigation (app.py), the guided tour (classroom) and the stage links of the pipeline page read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageEntry:
    section: str                    # navigation section
    path: str                       # the page's file, which also names it in the tour and in links
    title: str                      # the navigation title
    icon: str
    link_label: str | None = None   # short label under the pipeline diagram's box (the six stage pages)
    tour_title: str | None = None   # the page's step in the guided tour, where it has one
    tour_note: str | None = None
    teacher_script: str | None = None  # the teacher's script for this step: what to say, what to click

    @property
    def name(self) -> str:
        """The title without its stage number: '2 · Embedding lookup' → 'Embedding lookup'."""
        number, sep, rest = self.title.partition(" · ")
        return rest if sep and number.isdigit() else self.title


HOME = "pages/home.py"

PAGES: tuple[PageEntry, ...] = (
    PageEntry("Start", HOME, "Overview: one text, traced", ":material/home:",
              tour_title="Overview",
              tour_note="One sentence goes in; one vector comes out. Here is the whole trip at a glance.",
              teacher_script="Say: every search engine built on embeddings calls encode(text) and gets a list of "
                             "numbers back; today we open that call. Type a sentence the class suggests. Point at the "
                             "token chips and at the table of shapes: one row per stage."),
    PageEntry("Stages", "pages/tokenization.py", "1 · Tokenization", ":material/content_cut:", "Tokenization",
              "1 · Tokenization", "Text is cut into sub-word tokens, each with an id. Look for ## pieces.",
              "Say: the model never sees letters. Point at a word cut into ## pieces (none? add a rare word such as "
              "*unhappily*), then at GPT-2's split of the same text beside it. Click *Load a long example document* "
              "to show where the model stops reading."),
    PageEntry("Stages", "pages/embedding_lookup.py", "2 · Embedding lookup", ":material/menu_book:", "Lookup",
              "2 · Embedding lookup", "Each id picks one row of a big table: no computation yet.",
              "Say: each id is a row number in a table learned in training. Show the table's size, then pick a token "
              "in *nearest rows*: similar words got similar rows."),
    PageEntry("Stages", "pages/positional_encoding.py", "3 · Positional encoding", ":material/format_list_numbered:",
              "Positions", "3 · Position", "Without position information, word order would be invisible.",
              "Ask: would *the cat bit the dog* and *the dog bit the cat* look the same to attention? Scroll to the "
              "experiment: with positions switched off the two embeddings become equal."),
    PageEntry("Stages", "pages/attention.py", "4 · Attention", ":material/visibility:", "Attention",
              "4 · Attention", "Every token looks at every other; each head looks for something different.",
              "Type *The animal did not cross the street because it was too tired* into *Your text*. In "
              "*Which head links one token to another?* type *it → animal* and open the top head. Then show the "
              "overview: each square is one head."),
    PageEntry("Stages", "pages/feed_forward.py", "5 · Feed-forward", ":material/hub:", "Feed-forward",
              "5 · Feed-forward", "Each token alone goes through a wide two-layer network; the page shows what share of the "
              "model's weights it holds.",
              "Say: each token goes through the same small network on its own, several times wider inside (the "
              "*expansion* number). Point at the share of near-zero activations, and at the sentence under it that "
              "says at which threshold most neurons count as quiet: for a given token only a few fire strongly."),
    PageEntry("Stages", "pages/pooling.py", "6 · Pooling and similarity", ":material/join:", "Pooling",
              "6 · Pooling", "Many token vectors become one sentence vector; the choice matters.",
              "Say: search needs one vector per text. Open *Similarity, explained*: let the class guess whether "
              "cat/feline or cat/Python scores higher, then show the model's cosines. Pick two sentences and show "
              "which token pairs made the score."),
    PageEntry("Explore", "pages/pipeline.py", "All together: end to end", ":material/route:",
              tour_title="All together",
              tour_note="The whole pipeline rebuilt by hand matches encode() up to float rounding.",
              teacher_script="Point at the diagram: the six stages with this text's shapes. Click *Check against "
                             "SentenceTransformer.encode*: the hand-built vector matches the library's; read out the "
                             "gap and the line under it that spells it as a decimal."),
    PageEntry("Explore", "pages/projections.py", "Projections", ":material/scatter_plot:",
              tour_title="Projections",
              tour_note="Many sentences as points: topics form clusters. Look for a sentence that lands in the wrong one.",
              teacher_script="Say: a vector of hundreds of numbers cannot be drawn, so we squeeze it to 2. "
                             "Point at the topic clusters, hover a point to read its sentence, then open the *bank* "
                             "view: one word, two meanings, two places."),
    PageEntry("Explore", "pages/contrastive.py", "Training: contrastive learning", ":material/model_training:",
              tour_title="Training",
              tour_note="How the model learned this: pull matching pairs together, push the rest apart.",
              teacher_script="Say: training shows the model pairs that belong together. Move the temperature slider "
                             "and watch the loss; compare with the same batch under random weights."),
    PageEntry("Explore", "pages/retrieval.py", "Retrieval debugger", ":material/manage_search:",
              tour_title="Retrieval",
              tour_note="A query against a corpus: which passage ranks first, and why.",
              teacher_script="Pick the bundled example, run a query and open the top passage's explanation: the score "
                             "split into query × passage token pairs. Ask the class for a query that fails."),
)


def tour_pages() -> tuple[PageEntry, ...]:
    """The guided tour's steps, in page order."""
    return tuple(page for page in PAGES if page.tour_note)


def stage_pages() -> tuple[PageEntry, ...]:
    """The six stage pages, in order: the ones the pipeline diagram links to."""
    return tuple(page for page in PAGES if page.link_label)


def path_by_title() -> dict[str, str]:
    return {page.title: page.path for page in PAGES}
