"""Helpers for the browser tests: the app server and Chromium (re-exported from
aecore.appserver, which `aecore bench` shares), screenshots and the page's exceptions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from aecore.appserver import ROOT, browser, chromium_missing, streamlit_server

__all__ = ["browser", "chromium_missing", "draw_stroke", "exceptions_on", "new_page",
           "screenshot", "streamlit_server"]

ARTIFACTS = ROOT / "test-artifacts"


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def exceptions_on(page) -> list[str]:
    return page.locator("[data-testid='stException']").all_inner_texts()


@contextlib.contextmanager
def new_page(width: int = 1400, height: int = 1000) -> Iterator:
    """A Chromium page with a generous default timeout (every wait in the tests is bounded)."""
    with browser() as b:
        page = b.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(120_000)
        yield page


def draw_stroke(page, server: str, points: list[tuple[float, float]], steps: int = 6) -> None:
    """Open Draw and draw one stroke through `points` (canvas pixels, 280x280)."""
    page.goto(f"{server}/draw")
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=steps)
    page.mouse.up()
