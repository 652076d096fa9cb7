"""A person's hands in Chromium, for `aecore-bench` and the browser tests: a slider set with
the keyboard, and on Explore, a lasso timed from its mouse-up to the gallery of the selected
digits, and Play's frame rate."""

from __future__ import annotations

import math
import time
from typing import NamedTuple

GALLERY = "[data-testid='stHeading']:has-text('selected digit')"
# Lasso loops as shares of the plot area (x, y), one per try: disjoint, so that each starts
# outside the selection before it (a drag inside a selection moves that selection).
LOOPS = [[(0.30, 0.25), (0.48, 0.25), (0.48, 0.48), (0.30, 0.48)],
         [(0.52, 0.52), (0.75, 0.52), (0.75, 0.80), (0.52, 0.80)],
         [(0.52, 0.20), (0.75, 0.20), (0.75, 0.48), (0.52, 0.48)],
         [(0.25, 0.52), (0.48, 0.52), (0.48, 0.80), (0.25, 0.80)]]


def gallery_text(page) -> str:
    found = page.locator(GALLERY)
    return found.first.inner_text() if found.count() else ""


def lasso(page, loop: list[tuple[float, float]], chart: str = "map", steps: int = 6) -> None:
    """Draw a closed lasso through `loop` on the chart keyed `chart` (its lasso tool on)."""
    box = page.locator(f".st-key-{chart} .nsewdrag").first.bounding_box()
    points = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in loop]
    page.mouse.move(*points[0])
    page.mouse.down()
    for a, b in zip(points, points[1:] + points[:1], strict=True):
        for i in range(1, steps + 1):
            page.mouse.move(a[0] + (b[0] - a[0]) * i / steps, a[1] + (b[1] - a[1]) * i / steps)


def pick_lasso_tool(page, chart: str = "map") -> None:
    plot = page.locator(f".st-key-{chart} .js-plotly-plot").first
    plot.hover()
    page.locator(f".st-key-{chart} [data-title='Lasso Select']").first.click()


def lasso_to_gallery(page, tries: int = 3, chart: str = "map") -> list[float]:
    """Seconds from each lasso's mouse-up to a new gallery heading; the page shows the map."""
    seconds = []
    for loop in (LOOPS * tries)[:tries]:
        pick_lasso_tool(page, chart)  # a rerun may redraw the chart in its default mode
        before = gallery_text(page)
        lasso(page, loop, chart)
        start = time.perf_counter()
        page.mouse.up()
        for _ in range(1200):  # bounded: two minutes
            now = gallery_text(page)
            if now and now != before:
                break
            time.sleep(0.02)
        else:
            page.screenshot(path="/tmp/lasso-fail.png", full_page=True)
            raise AssertionError(f"no new gallery after a lasso (still {before!r})")
        seconds.append(time.perf_counter() - start)
        time.sleep(1.0)  # let the page settle before the next hand
    return seconds


def point_at(page, trace: str, i: int = 0, chart: str = "map") -> tuple[float, float]:
    """Where point i of the named trace is on screen (page pixels)."""
    return tuple(page.evaluate("""([chart, trace, i]) => {
        const gd = document.querySelector(`.st-key-${chart} .js-plotly-plot`);
        const t = gd._fullData.find(t => t.name === trace);
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const r = gd.getBoundingClientRect();
        return [r.left + xa._offset + xa.d2p(t.x[i]), r.top + ya._offset + ya.d2p(t.y[i])];
    }""", [chart, trace, i]))


class Played(NamedTuple):
    frames: int  # the animation's frames, each shown once
    fps: float


def play(page, chart: str = "map") -> Played:
    """Press the map's Play and wait until every frame has been shown."""
    frames = page.evaluate("""(chart) => {
        const gd = document.querySelector(`.st-key-${chart} .js-plotly-plot`);
        window.__aecoreFrames = [];
        if (!gd.__aecoreCounting) {  // one listener per chart, however often Play is timed
            gd.on('plotly_animatingframe', () => window.__aecoreFrames.push(performance.now()));
            gd.__aecoreCounting = true;
        }
        return gd._transitionData._frames.length; }""", chart)
    page.locator(f".st-key-{chart}").get_by_text("Play").click()
    for _ in range(600):  # bounded: two minutes
        times = page.evaluate("() => window.__aecoreFrames")
        if len(times) >= frames:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"Play showed {len(times)} of {frames} frames")
    return Played(frames, (len(times) - 1) / ((times[-1] - times[0]) / 1000))


def slide_to(page, label: str, value: float) -> None:
    """Move a slider with the keyboard until it shows value and keeps it, stepping back when it
    overshoots (a keypress can be lost, or land twice, while the page reruns). A select_slider's
    value is its option's index."""
    thumb = page.get_by_role("slider", name=label)

    def shown() -> float:
        return float(thumb.evaluate("e => e.getAttribute('aria-valuenow') || e.value"))

    for _ in range(300):  # bounded
        now = shown()
        if math.isclose(now, value, abs_tol=1e-9):
            time.sleep(1.0)
            if math.isclose(shown(), value, abs_tol=1e-9):
                return
            continue
        if thumb.is_enabled():
            thumb.focus()
            page.keyboard.press("ArrowRight" if now < value else "ArrowLeft")
        time.sleep(0.3)
    raise RuntimeError(f"the {label} slider shows {shown()}, never {value}")
