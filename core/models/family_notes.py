"""What a family's blocks are, in words, from its ``ModelInfo``: the position scheme and the
normalisation. One place for the sentences every page prints about them, so a new family or
position kind is described once (and a page never indexes a dict by a kind it has not heard of).
"""

from __future__ import annotations

from .model_info import ModelInfo

# kind → (a few words for tables and diagrams, a sentence for the positional page)
_POSITION_SCHEMES = {
    "learned": ("learned position rows added",
                "a learned table of absolute positions: one trained row per position, added to the token's row"),
    "learned+relative": ("learned rows + relative attention bias",
                         "a learned table of absolute positions plus a learned bias on attention scores that depends "
                         "on the distance between two tokens"),
    "rope": ("RoPE rotations of Q and K",
             "RoPE: no vector is added; inside every attention layer each query and key is rotated by an angle "
             "proportional to its position"),
    "relative": ("relative-offset bias on the scores",
                 "no position vector at all: every head adds a learned number to the score of each (query, key) pair "
                 "that depends only on their offset, grouped into buckets: one per offset up close, wider and wider "
                 "buckets further away"),
}


def position_scheme(kind: str, *, short: bool = False) -> str:
    """How a model of this ``position_kind`` knows where each token stands (``short``: a few words)."""
    words = _POSITION_SCHEMES.get(kind)
    if words is None:
        return kind
    return words[0] if short else words[1]


_NORMS = {
    "LayerNorm": "LayerNorm (subtract the mean, divide by the standard deviation, then a learned scale and shift)",
    "RMSNorm": "RMSNorm (divide by the root mean square, then a learned scale; no mean subtracted, no shift)",
}


def normalisation(info: ModelInfo) -> str:
    """Which norm the blocks use and where it sits, e.g. for Gemma: RMSNorm before each sub-layer and
    again on its output before the residual add."""
    kind = getattr(info, "norm_kind", "LayerNorm")
    what = _NORMS.get(kind, kind)
    if info.model_type == "gemma3_text":  # Gemma's RMSNorm scales by (1 + weight), weights start at 0
        what = what.replace("a learned scale", "a learned scale of 1 + weight")
    if not info.pre_norm:
        where = "after each sub-layer, on the residual sum (post-norm)"
    elif getattr(info, "output_norms", False):
        where = ("before each sub-layer and again on the sub-layer's output before it is added to the stream "
                 "(a norm on both sides of each sub-layer); the stream itself is never normalised")
    else:
        where = "before each sub-layer, on a copy of the stream (pre-norm); the stream itself is never normalised"
    return f"{what}, {where}"
