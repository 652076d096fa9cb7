"""Explore in Chromium on the real path (server, queue, worker processes, cache): a lasso's
gallery, a digit's neighbours, the map over training with Play and trust on a run trained
here; all 70,000 digits and a scribble on Draw on the classic recipe's run. Their speed is
`aecore-bench`'s (never a clock in a test)."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from benchmarks import ui
from benchmarks.ui import slide_to
from tests.e2e import (
    BROWSER_TEST,
    WAIT_MS,
    active_run,
    alert,
    download,
    draw_stroke,
    exceptions_on,
    new_page,
    screenshot,
)

pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def page(app_server):
    with new_page(1400, 1100) as pg:
        pg.goto(app_server)
        pg.get_by_text("Train an autoencoder").wait_for()
        slide_to(pg, "Epochs", 3)
        pg.get_by_role("button", name="Train", exact=True).click()
        alert(pg, "trained 3 epochs").wait_for(timeout=WAIT_MS)
        yield pg


def open_explore(page, server: str, title: str = "UMAP map of the codes of the 10,000",
                 run: str | None = None) -> None:
    """A fresh Explore (a new session: the newest run, unless the URL names one)."""
    page.goto(f"{server}/explore" + (f"?run={run}" if run else ""))
    page.get_by_text("Explore the latent map").wait_for()
    page.locator(".st-key-map").get_by_text(title).wait_for(timeout=WAIT_MS)
    time.sleep(1)


def test_lasso_gallery_and_a_digits_neighbours(app_server, page):
    open_explore(page, app_server)
    ui.lasso_to_gallery(page, tries=2)  # each lasso: a new gallery, or it raises
    assert "selected digits" in ui.gallery_text(page)
    assert page.locator(".st-key-map ~ div img, [data-testid='stHtml'] img").count() >= 2
    open_explore(page, app_server)  # a fresh view: no selection, and a click selects
    page.mouse.click(*ui.point_at(page, "3", 0))
    page.get_by_text("Nearest in code space").wait_for()
    page.get_by_text("Nearest on the map").wait_for()
    assert page.get_by_text("1 selected digit").count() == 1
    page.get_by_text("Nearest on the map").scroll_into_view_if_needed()
    screenshot(page, "explore-neighbours")
    page.get_by_text("map trust").click()
    page.get_by_text("trustworthiness").wait_for(timeout=300_000)
    assert "continuity" in page.get_by_text("trustworthiness").inner_text()
    screenshot(page, "explore-trust")
    assert not exceptions_on(page)


def test_the_map_over_training_plays_through_every_snapshot(app_server, page):
    open_explore(page, app_server)
    page.get_by_text("the test digits over training").click()
    page.locator(".st-key-map").get_by_text("over training").wait_for(timeout=WAIT_MS)
    page.locator(".st-key-map").get_by_text("Play").wait_for()
    time.sleep(1)
    # 3 epochs: 3 snapshots inside the first, then one at each epoch's end
    assert ui.play(page).frames == 6
    page.locator(".st-key-map").get_by_text("epoch 3").wait_for()  # it ends on the last one
    screenshot(page, "explore-over-training")
    page.get_by_text("map trust").click()  # every colouring plays: here each frame's trust
    page.locator(".st-key-map").get_by_text("% kept").first.wait_for()
    page.locator(".st-key-map").get_by_text("Play").wait_for()
    time.sleep(1)
    assert ui.play(page).frames == 6
    assert not exceptions_on(page)


def test_all_digits_map_with_a_lasso_and_a_training_digits_neighbours(app_server, page,
                                                                      default_run):
    """On the classic recipe's run, whose 70k map the MNIST tests fitted (and measured): the
    fit from a click through the map worker is test_worker's and test_app_links'."""
    classic = default_run["run_id"]
    open_explore(page, app_server, run=classic)
    assert active_run(page).startswith("dense · k=32 · 10 ep")
    page.get_by_text("all 70,000 digits").click()
    page.get_by_text("Index 0 to 9,999 are the test digits").wait_for()
    page.locator(".st-key-map").get_by_text("UMAP map of the codes of all 70,000").wait_for(
        timeout=WAIT_MS)
    time.sleep(2)
    ui.lasso_to_gallery(page, tries=1)
    screenshot(page, "explore-all-digits")
    table = pd.read_csv(download(page, "The map (CSV)"))  # with the stored head's answers
    assert len(table) == 70_000 and (table["label"] == table["prediction"]).mean() > 0.9
    open_explore(page, app_server, run=classic)
    page.get_by_text("all 70,000 digits").click()  # again, from the server's cache
    page.locator(".st-key-map").get_by_text("UMAP map of the codes of all 70,000").wait_for()
    time.sleep(1)
    page.mouse.click(*ui.point_at(page, "5", 5_000))
    page.get_by_text("Nearest on the map").wait_for()
    assert page.get_by_text("train #").count() >= 1
    assert not exceptions_on(page)


def test_a_scribble_is_unlike_any_digit(app_server, page, default_run):  # the classic run
    hatch = [(30, 30)]
    for i in range(6):  # a crosshatch over the whole canvas, in one stroke
        x = 250 if i % 2 == 0 else 30
        hatch += [(x, 30 + 44 * i), (x, 74 + 44 * i)]
    for i in range(6):
        y = 30 if i % 2 == 0 else 250
        hatch += [(250 - 44 * i, y), (206 - 44 * i, y)]
    draw_stroke(page, app_server, hatch, run=default_run["run_id"])
    page.get_by_text("It looks like").wait_for(timeout=300_000)
    warning = page.get_by_text("unlike every test digit")
    warning.wait_for()
    assert "99th percentile" in warning.inner_text() and "guess" in warning.inner_text()
    screenshot(page, "draw-scribble")
    assert not exceptions_on(page)
