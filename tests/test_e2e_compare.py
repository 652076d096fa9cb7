"""The Compare page in Chromium, the way a person uses it: sweep two latent sizes, watch the
table and curves fill in, sweep again (reusing what is trained), cancel a sweep, pick a run
from the table, and compare two runs' maps with a box selection."""

from __future__ import annotations

import re
import time

import pytest

from benchmarks.ui import slide_to
from tests.e2e import (
    ACTIVE_RUN,
    BROWSER_TEST,
    WAIT_MS,
    active_run,
    alert,
    exceptions_on,
    new_page,
    screenshot,
)

pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def server(app_server):
    return app_server


@pytest.fixture(scope="module")
def page(server):
    with new_page(height=1100) as pg:
        yield pg


def open_sweep_form(page) -> None:
    """The sweep's expander opens by itself only while the dataset has no runs: opened here
    by its state (a click while its content was still drawing closed it again)."""
    title = "Sweep latent sizes and models"
    page.get_by_text(title).first.wait_for()
    if page.locator("details").filter(has_text=title).first.get_attribute("open") is None:
        page.get_by_text(title).first.click()
    page.locator("[data-testid='stMultiSelect']").filter(has_text="Latent sizes").wait_for()


def keep_sizes(page, sizes: set[int]) -> None:
    open_sweep_form(page)
    box = page.locator("[data-testid='stMultiSelect']").filter(has_text="Latent sizes")
    box.locator("[data-tag]").first.wait_for()
    for _ in range(20):  # bounded: one chip per rerun
        chips = [int(t) for t in box.locator("[data-tag] span[title]").all_inner_texts()]
        extra = [k for k in chips if k not in sizes]
        if not extra:
            assert set(chips) == sizes
            return
        box.get_by_role("button", name=f"Remove {extra[0]}").click()
        box.get_by_role("button", name=f"Remove {extra[0]}").wait_for(state="detached")
    raise AssertionError("the latent sizes could not be set")


GROUP = "dense · 1 ep"  # the sweeps' curve; the server also holds other tests' runs


def plot_points(page, title: str) -> int:
    """Points of the sweeps' curve in the Plotly chart with this title (0 until drawn)."""
    return page.evaluate("""([title, group]) => {
        for (const gd of document.querySelectorAll('.js-plotly-plot')) {
            const t = gd.layout && gd.layout.title && gd.layout.title.text;
            if (t && t.includes(title)) return gd._fullData.filter(
                d => d.mode === 'lines+markers' && d.name === group)
                .reduce((n, d) => n + (d._length || 0), 0);
        }
        return 0; }""", [title, GROUP])


def bands(page) -> int:
    """Min-max bands (filled traces) of the sweeps' curve in the MLP accuracy chart."""
    return page.evaluate("""(group) => {
        for (const gd of document.querySelectorAll('.js-plotly-plot')) {
            const t = gd.layout && gd.layout.title && gd.layout.title.text;
            if (t && t.includes('MLP head')) return gd._fullData.filter(
                d => d.fill === 'toself' && d.legendgroup === group).length;
        }
        return 0; }""", GROUP)


def runs_shown(page) -> int:
    """The table's count: "12 runs of mnist"."""
    heading = page.get_by_text(re.compile(r"^\d+ runs of mnist$")).first
    heading.wait_for()
    return int(heading.inner_text().split()[0])


def wait_for_runs(page, count: int) -> None:
    page.get_by_text(f"{count} runs of mnist", exact=True).wait_for()


def test_sweep_compare_and_pick_runs(page, server):
    page.goto(f"{server}/compare")
    page.get_by_text("Compare runs").first.wait_for()
    before = runs_shown(page)
    keep_sizes(page, {16, 32})  # k=32: its heads' baselines come from the MNIST tests
    slide_to(page, "Epochs", 1)  # the path, not the quality: each run also gets heads and a map
    page.get_by_text("2 runs: 2 to train, 0 trained already").wait_for()
    page.get_by_role("button", name="Sweep", exact=True).click()
    page.get_by_text("of 2 runs").first.wait_for()
    # The table and the curves fill in while the sweep runs, then it says it is done.
    alert(page, "Sweep done: 2 of 2 runs").first.wait_for(timeout=WAIT_MS)
    for _ in range(100):  # the page reruns once more after the last result lands
        if plot_points(page, "MLP head: test accuracy") == 2:
            break
        time.sleep(0.2)
    assert plot_points(page, "MLP head: test accuracy") == 2
    assert plot_points(page, "Map: 2-D 5-NN accuracy") == 2
    wait_for_runs(page, before + 2)
    page.get_by_text("Digits whose neighbourhoods changed most").wait_for()
    screenshot(page, "compare")
    assert not exceptions_on(page)

    # Away and back: the finished sweep is still reported, the table still there.
    page.get_by_role("link", name="Explore").click()
    page.get_by_text("Explore the latent map").wait_for()
    page.get_by_role("link", name="Compare").click()
    alert(page, "Sweep done: 2 of 2 runs").first.wait_for()

    # A second sweep, of k=16 with two seeds, reuses its run and trains only the new seed's;
    # the curve then shows k=16's mean and range. Then a third sweep, cancelled at once.
    keep_sizes(page, {16})
    seeds = page.get_by_label("Seeds")
    seeds.fill("2")
    seeds.press("Enter")
    page.get_by_text("2 runs: 1 to train, 1 trained already").wait_for()
    page.get_by_role("button", name="Sweep", exact=True).click()
    alert(page, "Sweep done: 2 of 2 runs").first.wait_for(timeout=WAIT_MS)
    wait_for_runs(page, before + 3)
    for _ in range(100):
        if plot_points(page, "MLP head: test accuracy") == 2 and bands(page) == 1:
            break
        time.sleep(0.2)
    assert plot_points(page, "MLP head: test accuracy") == 2  # k=16 (two seeds) and k=32
    assert bands(page) == 1  # the range over k=16's two seeds: one filled trace

    # Cancel drops what has not started; the one training begun goes on to its end, so it is
    # short here (a long one would hold the next module's training behind it).
    slide_to(page, "Epochs", 2)
    page.get_by_role("button", name="Sweep", exact=True).click()
    page.get_by_role("button", name="Cancel").click()
    alert(page, "Sweep cancelled").first.wait_for()
    assert not exceptions_on(page)

    # Picking a row of the table makes that run active (rows are newest first).
    active = active_run(page)
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.scroll_into_view_if_needed()
    bounds = grid.bounding_box()
    for row in range(4):
        page.mouse.click(bounds["x"] + 16, bounds["y"] + 35 * (row + 1.5))
        time.sleep(1.5)
        if active_run(page) != active:
            break
    assert active_run(page) != active, "selecting a table row did not change the active run"
    assert page.get_by_role("combobox", name=ACTIVE_RUN).input_value().startswith("dense")
