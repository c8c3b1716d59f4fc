"""The web page at ``/``, used as a person would: in headless Chromium, typing and reading.

A real server runs on 127.0.0.1; Debian's Chromium (never a browser build downloaded by a test
tool) is driven by Playwright. Without either the tests skip and say why, unless
NAMEORIGIN_REQUIRE_BROWSER=1 (CI), where that is a failure. The page is screenshotted to the
test's temporary folder, or to $NAMEORIGIN_WEB_SCREENSHOT when set (benchmarks/web-screenshot.png was
made so).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NAMES = ["Qin", "Nakamura", "🙂", "Papadopoulos", "Ivanov"]


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    if not _chromium():
        return "Chromium is not installed (apt-get install -y chromium chromium-driver)"
    return None


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    missing = _missing_browser()
    if missing:
        if os.environ.get("NAMEORIGIN_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail(f"{missing}; NAMEORIGIN_REQUIRE_BROWSER is set, so this is an error", pytrace=False)
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=_chromium(), headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 900, "height": 1100})
        try:
            yield context
        finally:
            context.close()


@contextlib.contextmanager
def _server(model: Path, log: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAMEORIGIN_")}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "nameorigin.serve", "--model", str(model), "--port", "0"],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"running on (http://127\.0\.0\.1:\d+)", log.read_text())):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield found.group(1)
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    with _server(tiny_model, tmp_path_factory.mktemp("web-log") / "server.log") as url:
        yield url


@pytest.fixture
def page(browser_context, server):
    """A fresh tab on the page, failing the test on any console error or request elsewhere."""
    from playwright.sync_api import expect

    tab = browser_context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    tab.on("request", lambda r: None if r.url.startswith(server) else problems.append(f"request to {r.url}"))
    tab.problems = problems
    tab.goto(f"{server}/")
    expect(tab.locator("#revision")).not_to_have_text("(loading)")  # no eval: the page's CSP forbids it
    yield tab
    tab.close()
    assert not problems, problems


def _screenshot(tab, path: Path) -> Path:
    tab.screenshot(path=str(path), full_page=True)
    return path


def test_the_page_shows_the_model_and_is_keyboard_usable(page, server):
    info = httpx.get(f"{server}/v1/model").json()
    assert page.text_content("#revision") == info["revision"][:12]
    assert page.text_content("#labels") == ", ".join(info["labels"])
    assert page.get_attribute("meta[name=viewport]", "content").startswith("width=device-width")
    order = [page.evaluate("document.activeElement.id")]
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
    assert order == ["names", "top-k", "min-confidence", "level", "coverage", "submit"]
    for field in ("names", "top-k", "min-confidence", "level", "coverage"):
        assert page.locator(f"label[for={field}]").count() == 1


def test_names_typed_and_submitted_with_ctrl_enter_show_their_bars(page, server, tmp_path):
    expected = httpx.post(f"{server}/v1/predict", json={"names": NAMES, "top_k": 3}).json()["predictions"]
    page.fill("#top-k", "3")
    page.click("#names")
    page.keyboard.type("\n".join(NAMES))
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(f"article.result >> nth={len(NAMES) - 1}")
    cards = page.locator("article.result")
    assert cards.count() == len(NAMES)
    for i, want in enumerate(expected):
        card = cards.nth(i)
        assert card.get_attribute("data-name") == want["name"]
        bars = card.locator("li.bar")
        assert bars.count() == len(want["predictions"])
        for j, p in enumerate(want["predictions"]):
            bar = bars.nth(j)
            assert bar.locator(".label").text_content() == p["label"]
            assert bar.locator(".value").text_content() == f"{100 * p['probability']:.1f} %"
            fill, track = (bar.locator(sel).bounding_box()["width"] for sel in (".fill", ".track"))
            assert math.isclose(fill / track, p["probability"], abs_tol=1.5 / track), (fill, track, p)
        if want["abstained"]:
            assert card.locator(".abstained").text_content() == f"Not guessed: {want['reason']}"
        else:
            assert card.locator(".abstained").count() == 0
    assert "1 not guessed" in page.text_content("#status")
    cards.nth(0).locator("details.steps summary").click()
    page.wait_for_selector("article.result table.steps-table tbody tr")
    _screenshot(page, Path(os.environ.get("NAMEORIGIN_WEB_SCREENSHOT") or tmp_path / "page.png"))


def test_the_per_prefix_view_opens_from_the_keyboard(page, server):
    page.fill("#names", "Nakamura")
    page.click("#submit")
    summary = page.locator("article.result details.steps summary")
    summary.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("article.result table.steps-table tbody tr")
    explained = httpx.get(f"{server}/v1/explain", params={"name": "Nakamura", "top_k": 3}).json()
    rows = page.locator("article.result table.steps-table tbody tr")
    assert rows.count() == len(explained["steps"])
    assert rows.nth(0).locator("td").nth(0).text_content() == explained["steps"][0]["prefix"]


def test_min_confidence_and_errors_are_shown(page):
    page.fill("#names", "Qin\nIvanov")
    page.fill("#min-confidence", "1")
    page.click("#submit")
    page.wait_for_selector("article.result >> nth=1")
    reasons = page.locator("article.result .abstained").all_text_contents()
    assert len(reasons) == 2 and all("confidence" in r for r in reasons)
    page.fill("#min-confidence", "0")
    page.fill("#names", "\u722b" * 8)  # over the name limit once transliterated
    page.click("#submit")
    page.wait_for_selector("#error:not([hidden])")
    assert page.text_content("#error").startswith("422: names[0]: 103 characters")
    page.problems[:] = [p for p in page.problems if "status of 422" not in p]  # the refusal asked for


def test_the_page_shows_groups_and_prediction_sets(page, server):
    want = httpx.post(f"{server}/v1/predict", json={"names": ["Qin", "Ivanov"], "level": "group",
                                                    "coverage": 0.9}).json()["predictions"]
    page.fill("#names", "Qin\nIvanov")
    page.select_option("#level", "group")
    page.select_option("#coverage", "0.9")
    page.click("#submit")
    page.wait_for_selector("article.result >> nth=1")
    cards = page.locator("article.result")
    for i, p in enumerate(want):
        card = cards.nth(i)
        assert card.locator("li.bar .label").all_text_contents() == [q["label"] for q in p["predictions"]]
        assert card.locator(".prediction-set").text_content() == ("90 % prediction set: "
                                                                  + ", ".join(p["prediction_set"]))


def test_the_page_fits_a_phone(page, server, tmp_path):
    page.set_viewport_size({"width": 360, "height": 780})
    page.fill("#names", "Qin\nPapadopoulos")
    page.click("#submit")
    page.wait_for_selector("article.result >> nth=1")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    _screenshot(page, tmp_path / "phone.png")
