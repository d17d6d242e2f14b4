"""What the training page reports beside the InfoNCE loss: the chance-level loss and one PCA of the batch before and after training."""

from __future__ import annotations

import numpy as np

from ..embed.projection import pca


def chance_level_loss(batch_size: int) -> float:
    """ln(B): the InfoNCE loss of a model that spreads each row's softmax evenly over the B positives."""
    return float(np.log(batch_size))


def before_after_projection(anchors_before, positives_before, anchors_after, positives_after) -> np.ndarray:
    """[4B, 2]: anchors and positives before training, then after, projected with one PCA of all 4B vectors.

    Rows 0…B−1 anchors before, B…2B−1 positives before, 2B…3B−1 anchors after, 3B…4B−1 positives after."""
    return pca(np.concatenate([anchors_before, positives_before, anchors_after, positives_after]), 2)
