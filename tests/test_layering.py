"""Pages only draw: no page imports torch or a plotting/maths library, does array maths, or builds a figure.

The numbers come from ``core`` (tested against independent references in tests/), the figures from ``ui``.
Rounding for a table (``np.round``), index ranges (``np.arange``), masks and reshaping stay allowed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PAGES = sorted((Path(__file__).resolve().parent.parent / "pages").glob("*.py"))

FORBIDDEN_IMPORTS = {"torch", "plotly", "scipy", "sklearn", "umap", "transformers", "sentence_transformers"}
NUMPY_NAMES = {"np", "numpy"}
# numpy functions that compute (reductions, norms, statistics, products, orderings); np.round, np.arange,
# np.asarray, np.where, np.flatnonzero, np.diag … only arrange or round what core computed.
NUMPY_COMPUTING = {
    "abs", "absolute", "amax", "amin", "argmax", "argmin", "argsort", "average", "bincount", "clip", "corrcoef", "cov",
    "cumprod", "cumsum", "diff", "dot", "einsum", "exp", "histogram", "inner", "log", "log10", "log1p", "log2", "matmul",
    "max", "maximum", "mean", "median", "min", "minimum", "nanargmax", "nanargmin", "nanmax", "nanmean", "nanmedian",
    "nanmin", "nanpercentile", "nanquantile", "nanstd", "nansum", "nanvar", "outer", "percentile", "prod", "quantile",
    "sort", "sqrt", "square", "std", "sum", "tensordot", "unravel_index", "var",
}
NUMPY_SUBMODULES = {"linalg", "fft", "random", "polynomial"}
# methods that reduce an array (or a pandas column) to a number, or turn a tensor into one
COMPUTING_METHODS = {
    "argmax", "argmin", "cumprod", "cumsum", "dot", "max", "mean", "median", "min", "nanmean", "norm", "numpy",
    "percentile", "prod", "quantile", "std", "sum", "var",
}
PLOTLY_NAMES = {"go", "px"}  # the usual names of plotly.graph_objects / plotly.express
# methods that build or change a Plotly figure
FIGURE_METHODS = {
    "add_annotation", "add_hline", "add_shape", "add_trace", "add_traces", "add_vline", "update_layout", "update_traces",
    "update_xaxes", "update_yaxes",
}


def _root(node: ast.AST) -> tuple[str | None, list[str]]:
    """For ``a.b.c`` the root name 'a' and the attribute path ['b', 'c']."""
    path = []
    while isinstance(node, ast.Attribute):
        path.append(node.attr)
        node = node.value
    return (node.id if isinstance(node, ast.Name) else None), path[::-1]


def page_violations(source: str) -> list[str]:
    """What in a page's source computes or builds a figure, as 'line N: …' strings (empty when the page only draws)."""
    tree = ast.parse(source)
    found = []

    def report(node: ast.AST, what: str) -> None:
        found.append(f"line {node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_IMPORTS:
                    report(node, f"imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if node.module and node.level == 0 and node.module.split(".")[0] in FORBIDDEN_IMPORTS:
                report(node, f"imports from {node.module}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            report(node, "multiplies matrices (@)")
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            root, path = _root(node)
            if root in NUMPY_NAMES and path and path[0] in NUMPY_SUBMODULES and len(path) == 1:
                report(node, f"uses {root}.{path[0]}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            root, path = _root(node.func)
            name = node.func.attr
            if root in NUMPY_NAMES and len(path) == 1 and name in NUMPY_COMPUTING:
                report(node, f"calls {root}.{name}")
            elif root not in NUMPY_NAMES and name in COMPUTING_METHODS:
                report(node, f"calls .{name}()")
            elif root in PLOTLY_NAMES:
                report(node, f"builds a figure ({root}.{'.'.join(path)})")
            elif name in FIGURE_METHODS:
                report(node, f"builds a figure (.{name})")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "make_subplots":
            report(node, "builds a figure (make_subplots)")
    return sorted(set(found), key=lambda s: int(s.split()[1].rstrip(":")))


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_pages_only_draw(page):
    assert page_violations(page.read_text(encoding="utf-8")) == []


BAD_PAGE = '''
import numpy as np
import plotly.graph_objects as go
import torch
from core import pool

hidden = trace.last_hidden_state
pooled = pool("mean", hidden).numpy()[0]
norm = float(np.linalg.norm(pooled))
wins = np.bincount(winners, minlength=T)
full = np.nanmean(masked, axis=0)
cap = np.percentile(values, 99)
row_sums = probs.sum(-1)
spread = values.std()
share = outside.mean()
cosine = a @ b
figure = go.Figure(go.Bar(x=labels, y=wins))
figure.update_layout(height=300)
hi = np.unravel_index(np.argmax(values), values.shape)
'''

GOOD_PAGE = '''
import numpy as np
import pandas as pd
import streamlit as st
from core.analysis.vector_stats import l2_norm
from ui.pooling_views import max_wins_bar

table = pd.DataFrame({"position": np.arange(n), "q·k": np.round(worked.dots, 4), "may": np.where(ok, "yes", "no")})
keep = np.ones(n, dtype=bool)
kept = np.flatnonzero(keep)
st.metric("L2 norm", f"{l2_norm(vector):.4f}")
show_figure(max_wins_bar(tokens, wins), key="k")
first = min(1, n - 1)
'''


def test_the_checker_catches_each_rule():
    found = " | ".join(page_violations(BAD_PAGE))
    for expected in ("imports plotly.graph_objects", "imports torch", "calls .numpy()", "uses np.linalg", "calls np.bincount",
                     "calls np.nanmean", "calls np.percentile", "calls .sum()", "calls .std()", "calls .mean()",
                     "multiplies matrices", "builds a figure (.update_layout)", "builds a figure (go.Figure)",
                     "builds a figure (go.Bar)", "calls np.unravel_index",
                     "calls np.argmax"):
        assert expected in found, expected
    assert page_violations(GOOD_PAGE) == []


def page_keeps_run_alive(source: str) -> list[str]:
    """What in a page would keep one run's module (its trace, its figures) alive after the run: a callback
    defined in the page (a lambda or the page's own function), or a cache created at the page's top level
    (a page runs in a fresh module every run, so such a cache would also start empty each time)."""
    tree = ast.parse(source)
    own_functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in ("on_click", "on_change", "on_select", "on_submit"):
            if isinstance(node.value, ast.Lambda) or (isinstance(node.value, ast.Name) and node.value.id in own_functions):
                found.append(f"line {node.value.lineno}: {node.arg} defined in the page")
    for node in tree.body:
        calls = [node.value] if isinstance(node, ast.Assign) else []
        calls += [d for d in getattr(node, "decorator_list", [])]
        for call in calls:
            name = _root(call.func if isinstance(call, ast.Call) else call)
            if name[0] in ("ProgressCache", "budgeted") or name[1][-1:] in (["ProgressCache"], ["budgeted"]):
                found.append(f"line {node.lineno}: a cache created by the page")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_keep_nothing_alive_after_their_run(page):
    assert page_keeps_run_alive(page.read_text(encoding="utf-8")) == []


def test_the_run_check_catches_what_it_forbids():
    assert page_keeps_run_alive("st.button('Stop', on_click=lambda: st.session_state.pop('x'))")
    assert page_keeps_run_alive("def go():\n    pass\nst.button('Go', on_click=go)")
    assert page_keeps_run_alive("_RUNS = ProgressCache(max_entries=3)")
    assert page_keeps_run_alive("@budgeted('x', max_entries=2)\ndef f():\n    pass")
    assert not page_keeps_run_alive("st.button('Stop', on_click=callbacks.forget, args=('x',))")
