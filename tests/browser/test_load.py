"""Eight browser sessions at once against one server: each sees only its own text."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

# one WordPiece token each, so each shows up whole in token labels
WORDS = ["elephant", "mountain", "guitar", "castle", "orange", "winter", "doctor", "island"]
# (sidebar link, text on the page once it has drawn); clicking keeps the browser session (a new URL would start a new one)
PAGES = [("", ".ee-chip"), ("1 · Tokenization", "text=Tokenization"), ("4 · Attention", ".st-key-attn_layer"),
         ("6 · Pooling and similarity", "text=Max pooling, laid open")]


async def _session(browser, base_url: str, index: int, timings: list) -> list[str]:
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    word = WORDS[index]
    seen = []
    try:
        await page.goto(base_url)
        await page.wait_for_selector(".ee-chip", timeout=180_000)  # the first run has finished
        await page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=180_000)
        box = page.locator('[data-testid="stSidebar"] textarea[aria-label="Your text"]')
        await box.click()
        await box.fill(f"The {word} is session number {index}")
        await box.press("Control+Enter")
        for link, marker in PAGES:
            start = time.perf_counter()
            if link:
                await page.get_by_role("link", name=link).click()
            await page.wait_for_selector(marker, timeout=120_000)
            await page.wait_for_function(
                "word => document.documentElement.innerHTML.includes(word)", arg=word, timeout=120_000)
            await page.wait_for_function(
                "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
            timings.append((link or "home", time.perf_counter() - start))
            seen.append(await page.content())
    finally:
        await context.close()
    return seen


def test_eight_sessions_see_their_own_text(server):
    from playwright.async_api import async_playwright

    timings: list = []

    async def main():
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                return await asyncio.gather(*[_session(browser, server, i, timings) for i in range(len(WORDS))])
            finally:
                await browser.close()

    # The sync Playwright of the other browser tests owns this thread's event loop: run ours in a thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        results = pool.submit(lambda: asyncio.run(main())).result()
    for index, bodies in enumerate(results):
        assert len(bodies) == len(PAGES)
        for body in bodies:
            assert WORDS[index] in body
            others = [w for j, w in enumerate(WORDS) if j != index]
            assert not any(other in body for other in others), f"session {index} saw another session's text"
    slowest = max(timings, key=lambda item: item[1])
    print(f"\n8 concurrent sessions × {len(PAGES)} pages: slowest page {slowest[0]!r} {slowest[1]:.1f} s; "
          f"median {sorted(t for _, t in timings)[len(timings) // 2]:.1f} s")
