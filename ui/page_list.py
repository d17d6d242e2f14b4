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

    @property
    def name(self) -> str:
        """The title without its stage number: '2 · Embedding lookup' → 'Embedding lookup'."""
        number, sep, rest = self.title.partition(" · ")
        return rest if sep and number.isdigit() else self.title


HOME = "pages/home.py"

PAGES: tuple[PageEntry, ...] = (
    PageEntry("Start", HOME, "Overview: one text, traced", ":material/home:",
              tour_title="Overview",
              tour_note="One sentence goes in; one vector comes out. Here is the whole trip at a glance."),
    PageEntry("Stages", "pages/tokenization.py", "1 · Tokenization", ":material/content_cut:", "Tokenization",
              "1 · Tokenization", "Text is cut into sub-word tokens, each with an id. Look for ## pieces."),
    PageEntry("Stages", "pages/embedding_lookup.py", "2 · Embedding lookup", ":material/menu_book:", "Lookup",
              "2 · Embedding lookup", "Each id picks one row of a big table: no computation yet."),
    PageEntry("Stages", "pages/positional_encoding.py", "3 · Positional encoding", ":material/format_list_numbered:",
              "Positions", "3 · Position", "Without position information, word order would be invisible."),
    PageEntry("Stages", "pages/attention.py", "4 · Attention", ":material/visibility:", "Attention",
              "4 · Attention", "Every token looks at every other; each head looks for something different."),
    PageEntry("Stages", "pages/feed_forward.py", "5 · Feed-forward", ":material/hub:", "Feed-forward",
              "5 · Feed-forward", "Each token alone goes through a wide MLP: most of the parameters live here."),
    PageEntry("Stages", "pages/pooling.py", "6 · Pooling and similarity", ":material/join:", "Pooling",
              "6 · Pooling", "Many token vectors become one sentence vector; the choice matters."),
    PageEntry("Explore", "pages/pipeline.py", "All together: end to end", ":material/route:",
              tour_title="All together",
              tour_note="The whole pipeline rebuilt by hand equals encode() to the last digit."),
    PageEntry("Explore", "pages/projections.py", "Projections", ":material/scatter_plot:"),
    PageEntry("Explore", "pages/contrastive.py", "Training: contrastive learning", ":material/model_training:"),
    PageEntry("Explore", "pages/retrieval.py", "Retrieval debugger", ":material/manage_search:"),
)


def tour_pages() -> tuple[PageEntry, ...]:
    """The guided tour's steps, in page order."""
    return tuple(page for page in PAGES if page.tour_note)


def stage_pages() -> tuple[PageEntry, ...]:
    """The six stage pages, in order: the ones the pipeline diagram links to."""
    return tuple(page for page in PAGES if page.link_label)


def path_by_title() -> dict[str, str]:
    return {page.title: page.path for page in PAGES}
