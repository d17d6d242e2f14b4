"""Category colours stay apart for people with the common colour-vision deficiencies: each pair of the
palette, simulated for protanopia, deuteranopia and tritanopia (Machado, Oliveira & Fernandes 2009,
severity 1), keeps a CIELAB distance a viewer can see; Plotly's default cycle does not."""

from __future__ import annotations

import itertools

import numpy as np

from ui.colours import CATEGORY_COLOURS, category_style

MACHADO = {  # linear-RGB matrices, severity 1.0
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}
PLOTLY_DEFAULT = ("#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692", "#B6E880")


def _lab(hex_colours, matrix=None):
    rgb = np.array([[int(h[i:i + 2], 16) / 255 for i in (1, 3, 5)] for h in hex_colours])
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    if matrix is not None:
        linear = np.clip(linear @ np.asarray(matrix).T, 0, 1)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def _closest_pair(hex_colours, matrix=None) -> float:
    lab = _lab(hex_colours, matrix)
    return min(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(lab, 2))


def test_the_first_six_categories_stay_apart_under_every_simulated_deficiency():
    for name, matrix in MACHADO.items():
        assert _closest_pair(CATEGORY_COLOURS[:6], matrix) > 10, name
    assert _closest_pair(PLOTLY_DEFAULT[:6], MACHADO["protanopia"]) < 10  # the test can tell a bad palette


def test_a_ninth_category_gets_a_new_symbol():
    assert category_style(8) == (category_style(0)[0], "diamond") and category_style(0)[1] == "circle"
    assert len({category_style(i) for i in range(40)}) == 40
