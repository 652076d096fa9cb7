"""Helpers for the browser tests: the app server and Chromium (re-exported from
benchmarks.appserver, which `aecore-bench` shares), screenshots and the page's exceptions."""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from benchmarks.appserver import ROOT, browser

ARTIFACTS = ROOT / "test-artifacts"
# Every browser test module's marks: it needs Chromium and the real MNIST, takes minutes, and
# waits on trainings, maps and heads (pytest-timeout's limit, above WAIT_SECONDS).
BROWSER_TEST = [pytest.mark.e2e, pytest.mark.mnist, pytest.mark.slow, pytest.mark.timeout(600)]
# What a browser test waits for at most (a training, a map, a head): a guard against a hang,
# under pytest-timeout's 600 s for browser tests.
WAIT_SECONDS = 500
WAIT_MS = WAIT_SECONDS * 1000


ACTIVE_RUN = "Active run (newest first)"


def active_run(page) -> str:
    return page.get_by_role("combobox", name=ACTIVE_RUN).input_value()


def alert(page, text: str):
    """The message box (success, warning, error) that says text."""
    return page.locator("[data-testid='stAlert']").filter(has_text=text)


class Chart(NamedTuple):
    """What the loss chart holds: points of the batch-loss line, end-of-epoch test losses;
    and whether a training's progress bar showed beside it (the chart is then that job's,
    not the one an earlier job left)."""
    batches: int
    epochs: int
    running: bool = False


def chart(page) -> Chart:
    """The loss chart's batch points and epoch markers (0 and 0 before it is drawn)."""
    return Chart(*page.evaluate("""() => {
        const gd = document.querySelector('.js-plotly-plot');
        const length = prefix => {
            const t = gd && gd._fullData && gd._fullData.find(
                t => (t.name || '').startsWith(prefix));
            return t ? t._length || 0 : 0;
        };
        return [length('batch loss'), length('test BCE')];
    }"""))


def full_chart(page, epochs: int) -> Chart:
    """The chart once the page's last rerun has drawn all `epochs` markers."""
    deadline = time.monotonic() + 30
    while (drawn := chart(page)).epochs != epochs and time.monotonic() < deadline:
        time.sleep(0.2)
    assert drawn.epochs == epochs, f"the finished run's chart holds {drawn}"
    return drawn


def train_and_watch(page, done_text: str) -> list[Chart]:
    """Press Train, then read the loss chart while the job runs, until done_text shows; what
    the chart held at each look (the last one after the job ended)."""
    alert(page, done_text).first.wait_for(state="detached")  # not an earlier job's message
    page.get_by_role("button", name="Train", exact=True).click()
    seen, deadline = [], time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:  # a bound against a hang, not a speed test
        done = alert(page, done_text).count() > 0
        running = page.locator("[data-testid='stProgress']").count() > 0
        seen.append(chart(page)._replace(running=running))
        if done:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"{done_text!r} never showed; the chart held {sorted(set(seen))}")


def is_run(label: str, run: str) -> bool:
    """Whether a run picker's label names exactly this run ("dense · k=32 · 1 ep", with its
    variant if any): labels go on with " · BCE ...", so a prefix would match variants too."""
    return label.startswith(f"{run} · BCE")


def wait_for_active_run(page, run: str, stopped: bool = False) -> str:
    """The sidebar's active run, once it is `run` and is (not) a stopped run."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        label = active_run(page)
        if is_run(label, run) and ("stopped at" in label) == stopped:
            return label
        time.sleep(0.2)
    raise AssertionError(f"the active run is {active_run(page)!r}, not {run!r}... "
                         f"({'' if stopped else 'not '}stopped)")


def pick_run(page, run: str) -> None:
    """Make `run` ("dense · k=32 · 10 ep") the active run from the sidebar's picker."""
    page.get_by_role("combobox", name=ACTIVE_RUN).click()
    page.get_by_role("option", name=re.compile(rf"^{re.escape(run)} · BCE")).click()
    wait_for_active_run(page, run)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def exceptions_on(page) -> list[str]:
    return page.locator("[data-testid='stException']").all_inner_texts()


OPEN_PAGES: list = []  # the pages a failing test's report photographs (conftest)


def failure_shots(test_name: str) -> list[Path]:
    """What each open page showed when a test failed, for the person reading CI's log."""
    name = re.sub(r"[^\w.-]+", "_", test_name)[-80:]
    shots = []
    for i, page in enumerate(OPEN_PAGES):
        with contextlib.suppress(Exception):  # a page that crashed has nothing to show
            shots.append(screenshot(page, f"failed-{name}-{i}"))
    return shots


_CHROMIUM = contextlib.ExitStack()
_BROWSERS: list = []


def shared_browser():
    """The session's one Chromium, started on first use (the app server's fixture closes it);
    each page gets a context of its own, so nothing but the URL passes between them."""
    if not _BROWSERS:
        _BROWSERS.append(_CHROMIUM.enter_context(browser()))
    return _BROWSERS[0]


def close_browser() -> None:
    _BROWSERS.clear()
    _CHROMIUM.close()


@contextlib.contextmanager
def new_page(width: int = 1400, height: int = 1000, **options) -> Iterator:
    """A page in a fresh context (as a new browser would be) with a generous default timeout
    (every wait in the tests is bounded)."""
    context = shared_browser().new_context(viewport={"width": width, "height": height},
                                           **options)
    page = context.new_page()
    page.set_default_timeout(120_000)
    OPEN_PAGES.append(page)
    try:
        yield page
    except BaseException:
        failure_shots(os.environ.get("PYTEST_CURRENT_TEST", "test"))
        raise
    finally:
        OPEN_PAGES.remove(page)
        context.close()


def draw_stroke(page, server: str, points: list[tuple[float, float]], steps: int = 6,
                run: str | None = None) -> None:
    """Open Draw (on the run of that id, else the newest) and draw one stroke through
    `points` (canvas pixels, 280x280)."""
    page.goto(f"{server}/draw" + (f"?run={run}" if run else ""))
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=steps)
    page.mouse.up()


def download(page, name, where=None):
    """Click a download button (its name, or a pattern); the file's path once Chromium has it."""
    button = (where or page).get_by_role("button", name=name)
    button.wait_for(timeout=WAIT_MS)  # a bound: the classifier may still be training
    with page.expect_download(timeout=300_000) as info:
        button.click()
    return info.value.path()
