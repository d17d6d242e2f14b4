"""Colour limits for heatmaps that a few outlier values cannot wash out (the hover keeps the exact values)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def robust_limit(values, percentile: float = 99.0) -> float:
    """The ``percentile`` of |values| (float32), or their largest |value| when that is 0, or 1 for nothing at all."""
    magnitudes = np.abs(np.asarray(values, dtype=np.float32))
    limit = float(np.percentile(magnitudes, percentile)) if magnitudes.size else 1.0
    return limit if limit > 0 else float(magnitudes.max() or 1.0)


@dataclass(frozen=True)
class ColourCap:
    limit: float      # the colours stop at ± this: the ``percentile`` of |values|
    largest: float    # the value (with its sign) of largest magnitude
    clipped: bool     # True when the largest |value| exceeds ``factor`` × limit: worth saying that colours stop


def colour_cap(values, percentile: float = 99.0, factor: float = 1.5) -> ColourCap:
    """Where a symmetric colour scale stops (``percentile`` of |values|, 1 for nothing), and whether an outlier sits well past it."""
    values = np.asarray(values)
    if values.size == 0:
        return ColourCap(1.0, 0.0, False)
    magnitudes = np.abs(values)
    limit = float(np.percentile(magnitudes, percentile))
    return ColourCap(limit, float(values.flat[np.argmax(magnitudes)]), bool(magnitudes.max() > limit * factor))
