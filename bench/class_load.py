"""Thirty students at once: one server, one link, N browser sessions walking the stage pages together.

    python -m bench.class_load [--sessions 30] [--page-timeout 600] [--no-warm-up] [--browser-normal]

Starts one `streamlit run app.py` and one headless Chromium (a browser context per student). First
a warm-up walk (the default text: the model loads, numba compiles the first UMAP, as when the teacher
tries the link before class), then the reference: one session alone types its own text and walks the
six stage pages and Projections by clicking the sidebar links (a new URL would start a new session).
Then N sessions do the same walk at once, each with its own text, "The <word> is student <i>" (one
distinct WordPiece word per student, so each shows up whole in token labels).

A page visit has finished when the server has sent the run's script_finished message (read off the
session's websocket; the status widget alone appears only half a second into a run), the page's last
element is there, no status widget shows and, on the pages that draw the text, the session's word is
drawn. Each visit records two times: click → page drawn (what the student waits for) and the server's
own part, its script run(s) for the visit from start to end (the server runs with ScriptRunner._run_script
wrapped to log each run: session id, start, end, script-thread CPU; no app code changes). It also
records whether the session's own word shows (sidebar box; main area where the page draws the text),
whether any other student's word appears anywhere in the page (a cross-session leak), and any
exception, error box or traceback text. The server's RSS is sampled every half second and its
liveness watched.

The students' browsers stand in for 30 laptops but share this machine's CPUs with the server: at 30
sessions they need several times the server's CPU. Chromium runs under SCHED_IDLE (--browser-normal:
not) so it takes what the server leaves instead of starving it; the drawn times still include the
browsers' own queue. Prints per page the reference time, the median and p95 under load and their ratios, for
both times; the slowest page; RSS before / peak / after; CPU seconds of the server, of the browsers
and of anything else on the machine (other jobs); errors and leaks. Exits 1 if any visit leaked,
failed or did not finish. tests/browser/test_load.py runs a 12-session version with the same driver
(``drive``).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.live_server import process_memory_mb, stop_server  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, ERROR_MARKERS  # noqa: E402
from ui.page_list import PAGES, stage_pages  # noqa: E402

# One WordPiece token each in the bundled all-MiniLM-L6-v2 vocabulary (tests/browser/test_load.py checks),
# and none of them in the app's own text, examples or sentence sets (a leak check looks for them whole).
WORDS = ("elephant guitar winter island tiger dragon pirate wizard volcano penguin rocket candle forest harbor "
         "desert pencil jacket turtle carpet silver thunder helmet ladder mirror bridge basket blanket cabin "
         "glacier falcon").split()


@dataclass(frozen=True)
class Stop:
    title: str        # the sidebar link's text (ui/page_list.py)
    selector: str     # the page's last element, drawn once its script has run through
    shows_text: bool  # the main area draws the session's text (token labels)


_LAST_ELEMENT = {  # page path → its last element
    "pages/home.py": ".st-key-home_embedding",
    "pages/tokenization.py": ".st-key-tok_lookup_token",
    "pages/embedding_lookup.py": ".st-key-emb_parts",
    "pages/positional_encoding.py": ".st-key-pos_order_b",
    "pages/attention.py": ".st-key-attn_go_content",
    "pages/feed_forward.py": ".st-key-ffn_layer_bars",
    "pages/pooling.py": ".st-key-pool_sts_run",
    "pages/projections.py": ".st-key-proj_tokens_plot .js-plotly-plot",
}
_NO_TEXT = {"pages/positional_encoding.py", "pages/projections.py"}  # position rows, example sentence sets
WALK = tuple(Stop(page.title, _LAST_ELEMENT[page.path], page.path not in _NO_TEXT)
             for page in (*stage_pages(), *(p for p in PAGES if p.path == "pages/projections.py")))
HOME = Stop(PAGES[0].title, _LAST_ELEMENT[PAGES[0].path], True)
OPEN, TYPED = "(open the link)", "Overview, text typed"
TEXT_BOX = '[data-testid="stSidebar"] textarea[aria-label="Your text"]'
NO_STATUS = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
# One look at the finished page, in the browser: which of the words it holds (whole words, in the body's
# markup without its style sheets and scripts, and in every box's value; Streamlit's CSS names things
# like maplibregl-ctrl-compass), the session's own word in the sidebar box and in the main area, error
# elements and error text.
_INSPECT = r"""([words, own, markers]) => {
  const has = (text, word) => new RegExp('\\b' + word + '\\b').test(text);
  const values = [...document.querySelectorAll('textarea, input')].map(e => e.value).join('\n');
  const markup = document.body.innerHTML.replace(/<(style|script)\b[^]*?<\/\1>/gi, '');
  const all = (markup + '\n' + values).toLowerCase();
  const box = document.querySelector('[data-testid="stSidebar"] textarea[aria-label="Your text"]');
  const main = document.querySelector('[data-testid="stMain"]');
  const body = document.body.innerText;
  return {
    others: words.filter(w => w !== own && has(all, w)),
    own_in_box: !!box && has(box.value.toLowerCase(), own),
    own_in_main: !!main && has(main.innerHTML.toLowerCase(), own),
    errors: [...document.querySelectorAll('[data-testid="stException"], [data-testid="stAlertContentError"]')]
      .map(e => e.innerText.slice(0, 300)).concat(markers.filter(m => body.includes(m)).map(m => 'text: ' + m)),
  };
}"""


@dataclass
class Visit:
    page: str
    seconds: float                     # from the click until the page is drawn and checked
    answer: float = float("nan")       # from the browser's rerun request to the run's end, both seen in the browser
    clicked: float = float("nan")      # perf_counter (CLOCK_MONOTONIC, the server's clock too) of the click
    done: float = float("nan")         # and of the run's script_finished reaching the driver
    run: float = float("nan")          # the server's own time: its script runs for this visit, start to end
    run_cpu: float = float("nan")      # and their script thread's CPU seconds
    leaks: list[str] = field(default_factory=list)     # other sessions' words on this session's page
    errors: list[str] = field(default_factory=list)
    own_word_missing: list[str] = field(default_factory=list)  # "box", "main"
    server_cpu: float = float("nan")   # CPU seconds the server spent meanwhile (measured for a session alone)
    browser_cpu: float = float("nan")  # and the browser (Chromium, Playwright's driver)


@dataclass
class SessionResult:
    index: int
    word: str
    visits: list[Visit] = field(default_factory=list)
    failure: str | None = None  # why the walk stopped early (a timeout, a lost page)
    server_ids: set[str] = field(default_factory=set)  # Streamlit's session id(s), from NewSession

    def finished(self, walk=WALK) -> bool:
        titles = [stop.title for stop in walk]
        return self.failure is None and [v.page for v in self.visits][-len(titles):] == titles


class _Runs:
    """This session's websocket: when the browser asked for a run (BackMsg.rerun_script) and when the
    server's runs finished (ForwardMsg.script_finished; runs cut short for a rerun don't count)."""

    def __init__(self):
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._forward, self._back = ForwardMsg.FromString, BackMsg.FromString
        self._done = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR}
        self.finished_at: list[float] = []
        self.asked_at: list[float] = []
        self.session_ids: set[str] = set()

    @property
    def finished(self) -> int:
        return len(self.finished_at)

    def on_frame(self, payload) -> None:
        if isinstance(payload, str) or len(payload) > 4096:  # script_finished ~44 bytes, new_session ~1 kB
            return
        try:
            message = self._forward(payload)
        except Exception:  # noqa: BLE001 - not a ForwardMsg
            return
        kind = message.WhichOneof("type")
        if kind == "script_finished" and message.script_finished in self._done:
            self.finished_at.append(time.perf_counter())
        elif kind == "new_session":
            self.session_ids.add(message.new_session.initialize.session_id)

    def on_sent(self, payload) -> None:
        if isinstance(payload, str):
            return
        try:
            message = self._back(payload)
        except Exception:  # noqa: BLE001
            return
        if message.WhichOneof("type") == "rerun_script":
            self.asked_at.append(time.perf_counter())

    def window(self, run: int, since: float) -> tuple[float, float]:
        """(the first run request after ``since``, the end of finished run number ``run``), perf_counter times."""
        asked = [t for t in self.asked_at if t >= since]
        return (asked[0] if asked else since), self.finished_at[run]


class PageTimeout(Exception):
    pass


async def _settle(page, runs: _Runs, before: int, stop: Stop, word: str | None, deadline: float, what: str) -> None:
    """Until the run started after ``before`` has finished and the page shows it (see the module's doc)."""
    while runs.finished <= before:
        if time.monotonic() > deadline:
            raise PageTimeout(f"{what}: no finished run from the server")
        await asyncio.sleep(0.05)
    left = lambda: max(1_000, (deadline - time.monotonic()) * 1000)  # noqa: E731
    try:
        await page.wait_for_selector(stop.selector, state="attached", timeout=left())
        await page.wait_for_function(NO_STATUS, timeout=left())
        if word and stop.shows_text:
            await page.wait_for_function(
                """w => new RegExp('\\\\b' + w + '\\\\b', 'i').test(document.querySelector('[data-testid="stMain"]').innerHTML)""",
                arg=word, timeout=left())
    except Exception as error:  # noqa: BLE001 - Playwright's TimeoutError
        if "Timeout" in type(error).__name__:
            raise PageTimeout(f"{what}: run finished, page not drawn ({stop.selector})") from error
        raise


async def _inspect(page, visit: Visit, word: str, stop: Stop | None, words) -> None:
    """``stop`` None: the link just opened, the default text still in the box (no own word to look for)."""
    seen = await page.evaluate(_INSPECT, [list(words), word, list(ERROR_MARKERS)])
    visit.leaks = seen["others"]
    visit.errors = seen["errors"]
    if stop is not None:
        visit.own_word_missing = [where for where, ok in (("box", seen["own_in_box"]),
                                                          ("main", seen["own_in_main"] or not stop.shows_text)) if not ok]


async def _walk(browser, base_url: str, index: int, word: str | None, text: str | None, walk, words,
                timeout_s: float, probe=None) -> SessionResult:
    """One student: open the link, type ``text`` (None: keep the default text), click through ``walk``.
    ``probe``: () → (server CPU s, browser CPU s), read around each visit."""
    result = SessionResult(index, word or "")
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    context.set_default_timeout(timeout_s * 1000)  # a click waits for a starved renderer too
    page = await context.new_page()
    runs = _Runs()

    def watch(ws) -> None:
        ws.on("framereceived", runs.on_frame)
        ws.on("framesent", runs.on_sent)

    page.on("websocket", watch)
    what = OPEN
    try:
        async def visit(title: str, stop: Stop, act) -> None:
            nonlocal what
            what = title
            cpu = probe() if probe else (float("nan"),) * 2
            before, start = runs.finished, time.perf_counter()
            await act()
            opening = title == OPEN
            await _settle(page, runs, before, stop, None if opening else word, time.monotonic() + timeout_s, title)
            seconds = time.perf_counter() - start
            used = [b - a for a, b in zip(cpu, probe())] if probe else cpu
            asked, done = runs.window(before, start)
            result.visits.append(Visit(title, seconds, done - asked, start, done, server_cpu=used[0], browser_cpu=used[1]))
            if word:
                await _inspect(page, result.visits[-1], word, None if opening else stop, words)

        await visit(OPEN, HOME, lambda: page.goto(base_url, timeout=timeout_s * 1000))
        if text is not None:
            box = page.locator(TEXT_BOX)
            await box.click()
            await box.fill(text)
            await visit(TYPED, HOME, lambda: box.press("Control+Enter"))
        for stop in walk:
            link = page.locator('[data-testid="stSidebar"]').get_by_role("link", name=stop.title, exact=True)
            await visit(stop.title, stop, link.click)
    except PageTimeout as error:
        try:
            running = await page.evaluate("() => !!document.querySelector('[data-testid=\"stStatusWidget\"]')")
            status = "status widget showing" if running else "status widget gone"
        except Exception:  # noqa: BLE001 - the page itself is gone
            status = "page gone"
        result.failure = f"{error} after {timeout_s:.0f} s ({status})"
    except Exception as error:  # noqa: BLE001 - whatever stopped this student, the others go on
        result.failure = f"{what}: {type(error).__name__}: {str(error)[:300]}"
    finally:
        result.server_ids = runs.session_ids
        await context.close()
    return result


def student_text(index: int, word: str) -> str:
    return f"The {word} is student {index}"


def _idle_chromium() -> str:
    """Chromium under SCHED_IDLE (every process and thread it starts inherits it), so the browsers standing
    in for the students' own machines take the CPU the server leaves instead of starving it. Plain nice
    does not hold: Chromium sets its own threads' nice values (-8 for the browser and GPU processes here)."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="class-load-")) / "chromium"
    path.write_text(f'#!/bin/sh\nexec chrt --idle 0 "{CHROMIUM}" "$@"\n')
    path.chmod(0o755)
    return str(path)


def drive(base_url: str, sessions: int, *, walk=WALK, words=WORDS, timeout_s: float = 600, texts=None,
          warm_up: bool = False, server_pid: int | None = None, browser_idle: bool = True) -> list[SessionResult]:
    """``sessions`` students at once, each typing its own text, then walking ``walk``. Runs its own event
    loop in a thread of its own (a sync Playwright may own the caller's). ``texts``: one per student,
    default ``student_text``. ``warm_up``: one session with the default text instead (its word empty, no
    checks). ``server_pid`` with one session: each visit's CPU seconds of the server and of the browser.
    ``browser_idle``: Chromium under SCHED_IDLE (False: as this process)."""
    if sessions > len(words):
        raise ValueError(f"{sessions} sessions but {len(words)} distinct words")
    texts = texts or [student_text(i, words[i]) for i in range(sessions)]

    async def main():
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            executable = _idle_chromium() if browser_idle and shutil.which("chrt") else CHROMIUM
            browser = await playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
            probe = None
            if server_pid and sessions == 1:
                def probe():
                    return cpu_seconds(server_pid), sum(descendants_cpu(os.getpid(), server_pid).values())
            try:
                if warm_up:
                    return [await _walk(browser, base_url, 0, None, None, walk, words, timeout_s, probe)]
                if sessions == 1:
                    return [await _walk(browser, base_url, 0, words[0], texts[0], walk, words, timeout_s, probe)]
                return list(await asyncio.gather(*[_walk(browser, base_url, i, words[i], texts[i], walk, words, timeout_s)
                                                   for i in range(sessions)]))
            finally:
                await browser.close()
                if executable != CHROMIUM:
                    shutil.rmtree(Path(executable).parent, ignore_errors=True)

    outcome: dict = {}

    def run() -> None:
        try:
            outcome["results"] = asyncio.run(main())
        except BaseException as error:  # noqa: BLE001 - raised again in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, name="class-load")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["results"]


# ----------------------------------------------------------------------- the server, its runs timed

# `python -c _SERVE PORT RUN_LOG APP`: `streamlit run APP` in this process, each script run (ScriptRunner._run_script,
# one per rerun, a run cut short for a rerun included) appended to RUN_LOG as a JSON line: Streamlit's session id,
# start and end (perf_counter: CLOCK_MONOTONIC, the driver's clock too) and the script thread's CPU seconds.
# Nothing else is imported into the server, so its memory is the app's.
_SERVE = """
import json, sys, threading, time
port, run_log, app = sys.argv[1:4]
from streamlit.runtime.scriptrunner import script_runner
_original, _lock = script_runner.ScriptRunner._run_script, threading.Lock()
def _timed(self, rerun_data):
    start, cpu = time.perf_counter(), time.thread_time()
    try:
        return _original(self, rerun_data)
    finally:
        line = json.dumps({"session": self._session_id, "start": start, "end": time.perf_counter(),
                           "cpu": time.thread_time() - cpu})
        with _lock, open(run_log, "a") as log:
            log.write(line + "\\n")
script_runner.ScriptRunner._run_script = _timed
from streamlit.web import cli
sys.argv = ["streamlit", "run", app, "--server.port", port, "--server.address", "127.0.0.1", "--server.headless", "true"]
cli.main()
"""


def start_timed_server(log_path: Path, run_log: Path, timeout: float = 90, extra_env: dict | None = None):
    """(base URL, the server process) as bench.live_server.start_server, with every script run logged."""
    import subprocess

    from bench.live_server import free_port, wait_until_healthy

    port = free_port()
    run_log.write_text("")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(extra_env or {})}
    process = subprocess.Popen([sys.executable, "-c", _SERVE, str(port), str(run_log), str(ROOT / "app.py")],
                               cwd=ROOT, env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url, process, log_path, timeout)
    return url, process


def attach_runs(results: list[SessionResult], run_log: Path) -> None:
    """Give each visit its server runs: the session's runs that started between the click and the
    run's script_finished reaching the driver (the browser's own reports of its websocket frames come
    late when its renderer waits for CPU, so the click, not the request frame, opens the window)."""
    import json

    runs: dict[str, list[dict]] = {}
    for line in run_log.read_text().splitlines():
        entry = json.loads(line)
        runs.setdefault(entry["session"], []).append(entry)
    for result in results:
        mine = [run for sid in result.server_ids for run in runs.get(sid, [])]
        for visit in result.visits:
            inside = [r for r in mine if visit.clicked <= r["start"] <= visit.done]
            if inside:
                visit.run = sum(r["end"] - r["start"] for r in inside)
                visit.run_cpu = sum(r["cpu"] for r in inside)


# ----------------------------------------------------------------------- server watch, CPU accounting

class ServerWatch:
    """Samples the server's RSS every ``every`` seconds and notices if it exits; also the CPU time of
    every process under this one but the server (Playwright's driver, Chromium, its renderers), each
    process's last sample kept after it exits."""

    def __init__(self, process, every: float = 0.5):
        self.process, self.every = process, every
        self.peak = self.last = process_memory_mb(process.pid)
        self.died_at: float | None = None
        self.browser_cpu: dict[int, float] = {}  # pid → CPU seconds at its last sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(self.every):
            if self.process.poll() is not None:
                self.died_at = self.died_at or time.time()
                return
            try:
                self.last = process_memory_mb(self.process.pid)
            except OSError:
                continue
            self.peak = max(self.peak, self.last)
            tick += 1
            if tick % 2 == 0:
                self.browser_cpu.update(descendants_cpu(os.getpid(), skip=self.process.pid))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def alive(self) -> bool:
        return self.died_at is None and self.process.poll() is None


_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()  # fields from the state on (field 3 of proc(5))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid``, all its threads."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / _TICK


def descendants_cpu(root: int, skip: int) -> dict[int, float]:
    """CPU seconds of every live process under ``root`` but ``skip`` and its own."""
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent[int(entry)] = int(_stat(int(entry))[1])
            except (OSError, ValueError, IndexError):
                pass
    found = {}
    for pid in parent:
        ancestor = parent.get(pid)
        while ancestor and ancestor not in (root, skip, pid):
            ancestor = parent.get(ancestor)
        if ancestor == root and pid != skip:
            try:
                found[pid] = cpu_seconds(pid)
            except OSError:
                pass
    return found


def machine_busy_seconds() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICK


# ----------------------------------------------------------------------- report

def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def problems(results: list[SessionResult], walk=WALK) -> dict[str, list[str]]:
    """Every leak, error, missing own word and unfinished walk, as lines to print or assert on."""
    found: dict[str, list[str]] = {"leaks": [], "errors": [], "own word missing": [], "unfinished": []}
    for result in results:
        tag = f"session {result.index} ({result.word})"
        for visit in result.visits:
            found["leaks"] += [f"{tag} on {visit.page!r} saw {w!r}" for w in visit.leaks]
            found["errors"] += [f"{tag} on {visit.page!r}: {e}" for e in visit.errors]
            found["own word missing"] += [f"{tag} on {visit.page!r}: not in the {w}" for w in visit.own_word_missing]
        if not result.finished(walk):
            found["unfinished"].append(f"{tag}: {result.failure or 'walk incomplete'} "
                                       f"({len(result.visits)} of {len(walk) + 2} steps done)")
    return found


def times_by_page(results: list[SessionResult]) -> dict[str, list[float]]:
    by_page: dict[str, list[float]] = {}
    for result in results:
        for visit in result.visits:
            by_page.setdefault(visit.page, []).append(visit.seconds)
    return by_page


def summary_line(results: list[SessionResult]) -> str:
    """One line for the test's output: per page, median / max seconds to the drawn page, and the median from
    the rerun request to the run's end as the browser saw them."""
    answers: dict[str, list[float]] = {}
    for result in results:
        for visit in result.visits:
            if not math.isnan(visit.answer):
                answers.setdefault(visit.page, []).append(visit.answer)
    parts = [f"{page.split(' · ')[0]} {statistics.median(t):.1f}/{max(t):.1f}"
             + (f" ({statistics.median(answers[page]):.1f})" if answers.get(page) else "")
             for page, t in times_by_page(results).items()]
    return (f"{len(results)} sessions, per page median/max s to drawn (median request → run finished): " + ", ".join(parts))


def _by_page(results: list[SessionResult], attr: str) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for result in results:
        for visit in result.visits:
            if not math.isnan(getattr(visit, attr)):
                found.setdefault(visit.page, []).append(getattr(visit, attr))
    return found


def _table(reference: SessionResult, crowd: list[SessionResult], attr: str, extra=()) -> list[str]:
    """Per page: ``attr`` alone, its median, p95 and max under load, the ratios; ``extra``: (heading, page → value)."""
    single = {v.page: getattr(v, attr) for v in reference.visits}
    loaded = _by_page(crowd, attr)
    lines = [f"{'page':<28}{'alone s':>8}{'median s':>9}{'p95 s':>7}{'max s':>7}{'median ×':>9}{'p95 ×':>6}{'n':>4}"
             + "".join(f"{heading:>{len(heading) + 2}}" for heading, _ in extra)]
    for page in [OPEN, TYPED, *(s.title for s in WALK)]:
        times = loaded.get(page, [])
        alone = single.get(page, float("nan"))
        tail = "".join(f"{value(page):>{len(heading) + 2}.2f}" for heading, value in extra)
        if not times:
            lines.append(f"{page:<28}{alone:>8.2f}{'—':>9}{'':>33}{tail}")
            continue
        med, top = statistics.median(times), p95(times)
        lines.append(f"{page:<28}{alone:>8.2f}{med:>9.2f}{top:>7.2f}{max(times):>7.2f}"
                     f"{med / alone:>9.1f}{top / alone:>6.1f}{len(times):>4}{tail}")
    walked = {p: t for p, t in loaded.items() if p != OPEN}
    if walked:
        slowest = max(walked, key=lambda p: p95(walked[p]))
        lines.append(f"slowest page: {slowest!r}, p95 {p95(walked[slowest]):.1f} s")
    return lines


def report(reference: SessionResult, crowd: list[SessionResult], goal_s: float = 12.0) -> str:
    """Two tables, per page, alone against under load: the time a student waits (click → page drawn, in
    browsers that share this machine's CPUs with the server) and the server's own part of it."""
    nan = float("nan")
    alone = {v.page: v for v in reference.visits}
    run_cpu = _by_page(crowd, "run_cpu")
    lines = ["Click → page drawn and checked (the students' browsers run on this machine too):"]
    lines += _table(reference, crowd, "seconds", [
        ("alone: browser CPU s", lambda page: alone[page].browser_cpu if page in alone else nan)])
    lines += ["", "The server's own time: its script run(s) for the visit, start to end (the server's clock):"]
    lines += _table(reference, crowd, "run", [
        ("alone: server CPU s", lambda page: alone[page].server_cpu if page in alone else nan),
        ("script CPU alone", lambda page: alone[page].run_cpu if page in alone else nan),
        ("median under load", lambda page: statistics.median(run_cpu[page]) if run_cpu.get(page) else nan)])
    lines.append(f"goal: p95 ≤ {goal_s:.0f} s per page")
    return "\n".join(lines)


def _print_cold(warm: SessionResult) -> None:
    steps = ", ".join(f"{v.page.split(' · ')[0]} {v.seconds:.1f}" for v in warm.visits)
    print(f"warm-up walk (default text, fresh server), s: {steps}" + (f"; FAILED: {warm.failure}" if warm.failure else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--page-timeout", type=float, default=600, help="seconds one page visit may take (default 600)")
    parser.add_argument("--no-warm-up", action="store_true", help="skip the untimed walk that loads the model and compiles UMAP")
    parser.add_argument("--browser-normal", action="store_true",
                        help="run Chromium at normal priority (default: SCHED_IDLE, so the simulated students' "
                             "browsers don't starve the server)")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the server, e.g. STREAMLIT_RUNNER_POST_SCRIPT_GC=false "
                             "(Streamlit reads its options from STREAMLIT_<SECTION>_<OPTION>); repeatable")
    parser.add_argument("--json", type=Path, help="write every visit of the reference and the crowd here")
    parser.add_argument("--log", type=Path, default=ROOT / "test-artifacts" / "class_load_streamlit.log")
    args = parser.parse_args()

    args.log.parent.mkdir(exist_ok=True)
    run_log = args.log.with_suffix(".runs.jsonl")
    server_env = dict(item.split("=", 1) for item in args.server_env)
    base_url, server = start_timed_server(args.log, run_log, extra_env=server_env)
    print(f"server pid {server.pid} at {base_url}{' with ' + ' '.join(args.server_env) if args.server_env else ''}; "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f} at start")
    try:
        with ServerWatch(server) as watch:
            rss_start = watch.last
            if not args.no_warm_up:
                _print_cold(drive(base_url, 1, warm_up=True, timeout_s=args.page_timeout, browser_idle=not args.browser_normal)[0])
            reference = drive(base_url, 1, texts=[f"The {WORDS[0]} is the teacher's example"],
                              timeout_s=args.page_timeout, server_pid=server.pid, browser_idle=not args.browser_normal)[0]
            rss_before = watch.last
            watch.peak = rss_before
            watch.browser_cpu.clear()  # the warm-up's and the reference's browsers are gone
            cpu0 = (cpu_seconds(server.pid), 0.0, machine_busy_seconds(), cpu_seconds(os.getpid()))
            start = time.perf_counter()
            crowd = drive(base_url, args.sessions, timeout_s=args.page_timeout, browser_idle=not args.browser_normal)
            wall = time.perf_counter() - start
            cpu1 = (cpu_seconds(server.pid), sum(watch.browser_cpu.values()), machine_busy_seconds(), cpu_seconds(os.getpid()))
            time.sleep(1.0)
            rss_after, rss_peak, alive = watch.last, watch.peak, watch.alive
    finally:
        stop_server(server)
    attach_runs([reference, *crowd], run_log)
    if args.json:
        import dataclasses
        import json

        def plain(result: SessionResult) -> dict:
            return {**dataclasses.asdict(result), "server_ids": sorted(result.server_ids)}

        args.json.write_text(json.dumps({"sessions": args.sessions, "wall_s": wall, "reference": plain(reference),
                                         "crowd": [plain(r) for r in crowd]}, indent=1, default=str))

    print(f"\nreference: one session alone after the warm-up{'' if reference.finished() else ' — FAILED: ' + str(reference.failure)}")
    print(f"{args.sessions} sessions at once: {wall:.0f} s wall for the whole walk "
          f"({len(WALK)} pages after opening the link and typing)\n")
    print(report(reference, crowd))
    server_cpu, browser_cpu, busy, own_cpu = (b - a for a, b in zip(cpu0, cpu1))
    other = busy - server_cpu - browser_cpu - own_cpu
    print(f"CPU seconds during the crowd ({wall:.0f} s × {os.cpu_count()} CPUs = {wall * os.cpu_count():.0f} available): "
          f"server {server_cpu:.0f}, browsers {browser_cpu:.0f}, this driver {own_cpu:.0f}, "
          f"anything else on the machine {other:.0f}; load average now {os.getloadavg()[0]:.2f}")
    print(f"server RSS: {rss_start:.0f} MB at start, {rss_before:.0f} MB before the crowd, peak {rss_peak:.0f} MB, "
          f"{rss_after:.0f} MB after; server {'alive' if alive else 'DIED'} throughout")
    found = problems([reference, *crowd])
    for kind, items in found.items():
        print(f"{kind}: {len(items)}")
        for item in items[:20]:
            print(f"  {item}")
    return 1 if any(found.values()) or not alive else 0


if __name__ == "__main__":
    sys.exit(main())
