"""A visitor from another machine, for real: the server listens on every interface and the browser
connects through this machine's network address, so Streamlit sees a non-loopback peer. Without any
host settings that visitor may load only the bundled model, by the model field or by a link."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from .conftest import ARTIFACTS, ROOT, assert_no_error_text, wait_for_app

pytestmark = pytest.mark.browser


def _network_address() -> str | None:
    """This machine's address on its network (no packet is sent: a UDP socket only picks a route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def remote_server():
    address = _network_address()
    if address is None:
        pytest.skip("this machine has no network address besides loopback, so no browser can connect as a remote visitor")
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        port = sock.getsockname()[1]
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "streamlit-visitor.log", "w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPLORER_") or k == "EXPLORER_CHROMIUM"}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "0.0.0.0", "--server.headless", "true"],
        cwd=ROOT, env={**env, "HF_HUB_OFFLINE": "1"}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{address}:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("streamlit did not answer on the network address within 90 s")
    yield url
    process.terminate()
    process.wait(timeout=15)
    log.close()


def _model_error(page) -> str:
    return page.locator('[data-testid="stSidebar"] [data-testid="stAlertContentError"]').inner_text()


def test_a_remote_visitor_cannot_reach_the_servers_folders(browser, remote_server):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(remote_server + "/?model=/etc")  # a crafted link
        wait_for_app(page, ".ee-chip", timeout=180_000)
        page.get_by_text("Model and device").click()
        linked = _model_error(page)
        assert "This server does not offer '/etc'" in linked and "Still using sentence-transformers/all-MiniLM-L6-v2" in linked
        answers = {}
        field = page.locator('[data-testid="stSidebar"] input[aria-label="Model"]')
        for requested in ["/root", "/nonexistent"]:
            field.fill(requested)
            field.press("Enter")
            page.wait_for_timeout(500)
            wait_for_app(page)
            answers[requested] = _model_error(page).replace(requested, "X")
        assert answers["/root"] == answers["/nonexistent"]  # nothing tells whether /root exists
        assert page.locator(".ee-chip").count() > 0  # the page still works on the bundled model
        assert_no_error_text(page)
    finally:
        context.close()
