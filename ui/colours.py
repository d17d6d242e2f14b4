"""Colours for categories (topics, clusters, sentences): Okabe and Ito's palette, told apart by people
with the common colour-vision deficiencies, and a marker symbol per round of it so that a ninth group
never looks like the first."""

from __future__ import annotations

# Okabe & Ito (2008), "Color Universal Design", ordered so that the first few differ most on white.
CATEGORY_COLOURS: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow (last: faint on white)
)
CATEGORY_SYMBOLS: tuple[str, ...] = ("circle", "diamond", "square", "triangle-up", "x", "cross")


def category_style(number: int) -> tuple[str, str]:
    """(colour, marker symbol) of the ``number``-th category (0-based)."""
    rounds, index = divmod(int(number), len(CATEGORY_COLOURS))
    return CATEGORY_COLOURS[index], CATEGORY_SYMBOLS[rounds % len(CATEGORY_SYMBOLS)]
