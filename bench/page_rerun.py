"""Server-side rerun time and payload size of one page, with a warm model.

    python -m bench.page_rerun pages/home.py [--repeats 3]

For a new 16-token and a new 256-token text (new = not in the trace cache), it times the
page's rerun under Streamlit's AppTest (the script run the server does for a browser) and
adds up the byte size of every element the run sends. The reference in the same run is the
bare trace of the same text (core.trace_text), so the ratio says what the page costs on top
of the model's own work on this machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from streamlit.runtime.pages_manager import PagesManager  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from core import load_model, trace_text  # noqa: E402

_original_init = PagesManager.__init__


def _init(self, *args, **kwargs):  # see tests/conftest.py: AppTest + pages/ + st.navigation
    _original_init(self, *args, **kwargs)
    PagesManager.uses_pages_directory = False


PagesManager.__init__ = _init

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau "
         "upsilon phi chi psi omega").split()


def text_with_tokens(model, n_tokens: int, salt: int) -> str:
    """A fresh text of exactly n_tokens tokens (special tokens included) for this tokenizer."""
    words, text = [], ""
    i = salt
    while True:
        words.append(WORDS[i % len(WORDS)] + ("" if i % 3 else "s"))
        i += 7
        text = " ".join(words)
        n = len(model.tokenizer(text)["input_ids"])
        if n >= n_tokens:
            return text


def payload_bytes(app: AppTest) -> int:
    total = 0
    stack = [app._tree]
    while stack:
        node = stack.pop()
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ByteSize"):
            total += proto.ByteSize()
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            stack.extend(children.values())
    return total


def measure(app: AppTest, model, n_tokens: int, repeats: int, salt: int = 0) -> tuple[float, float, int]:
    """(best rerun seconds, best bare-trace seconds, largest payload bytes) for fresh texts of n_tokens."""
    page_times, trace_times, sizes = [], [], []
    for repeat in range(repeats):
        text = text_with_tokens(model, n_tokens, salt=1000 * n_tokens + repeat + salt)
        start = time.perf_counter()
        trace_text(model, text + " x")
        trace_times.append(time.perf_counter() - start)
        app.session_state["text"] = text
        start = time.perf_counter()
        app.run()
        page_times.append(time.perf_counter() - start)
        assert not app.exception, app.exception
        sizes.append(payload_bytes(app))
    return min(page_times), min(trace_times), max(sizes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("page")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = load_model()
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    app.run()
    app.switch_page(args.page).run()  # warm: model loaded, page imported
    print(f"page {args.page}")
    for n_tokens in (16, 256):
        page_t, trace_t, size = measure(app, model, n_tokens, args.repeats)
        print(f"  {n_tokens:>4} tokens: rerun {page_t * 1000:8.1f} ms (best of {args.repeats}) · bare trace {trace_t * 1000:7.1f} ms "
              f"· ratio {page_t / trace_t:5.1f} · payload {size / 1e6:6.3f} MB")


if __name__ == "__main__":
    main()
