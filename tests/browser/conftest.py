"""A real browser against a real server: `streamlit run app.py` on localhost, driven by
Playwright in Debian's Chromium (/usr/bin/chromium; Playwright's own browser download
cannot run here)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("EXPLORER_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
# Text any Streamlit error box or traceback would show; none may appear on a page.
ERROR_MARKERS = ("Traceback (most recent call last)", "StreamlitAPIException", "Error running app", "Exception:")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does.")
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    log = open(ROOT / "test-artifacts" / "streamlit.log", "w") if ARTIFACTS.mkdir(exist_ok=True) is None else None
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}; see test-artifacts/streamlit.log")
    else:
        process.kill()
        pytest.fail("streamlit did not answer its health check within 90 s")
    yield url
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs  # an alert() from typed markup would land here
    page.base_url = server
    yield page
    context.close()


def wait_for_app(page, selector: str | None = None, timeout=120_000) -> None:
    """Wait for the app's frame, then for ``selector`` (content the page draws when its script has run),
    then until Streamlit's 'Running…' status widget is gone."""
    page.wait_for_selector('[data-testid="stSidebar"] textarea', timeout=timeout)
    if selector:
        page.wait_for_selector(selector, timeout=timeout)
    page.wait_for_timeout(400)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout
    )


def set_text(page, text: str) -> None:
    """Type into the sidebar's text box and apply it (Ctrl+Enter), as a person would."""
    box = page.locator('[data-testid="stSidebar"] textarea[aria-label="Your text"]')
    box.click()
    box.fill(text)
    box.press("Control+Enter")
    page.wait_for_timeout(500)
    wait_for_app(page)


def assert_no_error_text(page) -> None:
    body = page.inner_text("body")
    for marker in ERROR_MARKERS:
        assert marker not in body, f"error text on the page: {marker}"
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not page.dialogs, f"a dialog opened: {page.dialogs}"


def screenshot(page, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its own container, so grow the window to fit it first."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = page.viewport_size or {"width": 1400, "height": 1000}
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], [data-testid=\"stAppViewContainer\"]')]"
        ".map(e => e.scrollHeight), document.body.scrollHeight)"
    )
    page.set_viewport_size({"width": size["width"], "height": int(min(max(height + 40, size["height"]), 8000))})
    page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def export_download(page, key: str, fmt: str, directory: Path) -> Path:
    """Open the Export popover under the chart with ``key``, click its ``fmt`` button (png, svg, csv, json)
    and return the downloaded file. The download is generated on click (deferred) and does not rerun the page."""
    from playwright.sync_api import expect

    wait_for_app(page)
    opener = page.locator(f".st-key-{key}__export button").first
    button = page.locator(f".st-key-{key}__export_{fmt} button")
    for attempt in range(3):  # a closed popover keeps its buttons in the page, off screen; a rerun may close it
        opener.scroll_into_view_if_needed()
        opener.click()
        try:
            expect(button).to_be_in_viewport(timeout=5_000)
            break
        except AssertionError:
            if attempt == 2:
                raise
            wait_for_app(page)
    with page.expect_download(timeout=90_000) as download:
        button.click()
    path = directory / download.value.suggested_filename
    download.value.save_as(path)
    page.keyboard.press("Escape")  # close the popover again
    page.mouse.move(1, 1)  # and leave no tooltip or focus ring over later screenshots
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    return path


def read_csv_download(path: Path) -> list[list[str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))
