"""End to end in Chromium: train from the Train page, see the map, draw a digit, every page."""

from __future__ import annotations

import math
import re
import time

import pytest

from benchmarks.ui import slide_to
from tests.e2e import (
    BROWSER_TEST,
    WAIT_MS,
    active_run,
    alert,
    draw_stroke,
    exceptions_on,
    full_chart,
    is_run,
    new_page,
    pick_run,
    screenshot,
    train_and_watch,
    wait_for_active_run,
)

pytestmark = BROWSER_TEST
PAGES = ["train", "explore", "reconstruct", "classify", "draw"]


@pytest.fixture(scope="module")
def server(app_server):
    return app_server


@pytest.fixture(scope="module")
def page(server):
    with new_page() as pg:
        yield pg


def test_train_several_configs_in_a_row(server, page):
    """Train k=30 (2 epochs), then stop a k=28 run and train it again in full: each job is reported,
    drawn and activated as itself (the first release mixed up the second job)."""
    page.goto(server)
    page.get_by_text("Train an autoencoder").wait_for()
    slide_to(page, "Latent size k", 30)  # a config no other test trains on this server
    slide_to(page, "Epochs", 2)  # Compare's sweeps are the server's only 1-epoch curve
    train_and_watch(page, "trained 2 epochs:")
    wait_for_active_run(page, "dense · k=30 · 2 ep")

    slide_to(page, "Latent size k", 28)
    slide_to(page, "Epochs", 20)  # Stop lands well before the end
    alert(page, "trained 2 epochs:").first.wait_for(state="detached")
    page.get_by_role("button", name="Train", exact=True).click()
    # a window of 13 epochs (about 6 s) that the page's 2-second progress poll cannot skip
    page.get_by_text(re.compile(r"Epoch ([2-9]|1[0-4]) of 20")).wait_for()
    page.get_by_role("button", name="Stop").click()
    alert(page, "the finished epochs were kept").first.wait_for()
    wait_for_active_run(page, "dense · k=28 · 20 ep", stopped=True)

    seen = train_and_watch(page, "trained 20 epochs:")  # the stopped config, again in full
    # Drawn while it ran: some epochs in, not all, beside its progress bar (the stopped
    # run's chart, which it replaces, had some too).
    assert any(c.running and 1 < c.epochs < 20 for c in seen[:-1]), f"no live chart: {seen}"
    full_chart(page, 20)  # the page's last rerun draws the whole run
    wait_for_active_run(page, "dense · k=28 · 20 ep", stopped=False)
    screenshot(page, "train")
    assert not exceptions_on(page)

    # Explore shows the active run's map; switching runs in the sidebar switches the map.
    page.get_by_role("link", name="Explore").click()
    # The map worker fits the maps of the three runs (and their maps over training) in turn,
    # at idle priority: a bound, not a speed test (the bench times the maps).
    waited = time.perf_counter()
    page.get_by_text("UMAP of their 28-d codes (k=28)").wait_for(timeout=WAIT_MS)
    print(f"k=28 UMAP shown {time.perf_counter() - waited:.0f} s after opening Explore")
    pick_run(page, "dense · k=30 · 2 ep")
    page.get_by_text("of their 30-d codes (k=30)").first.wait_for()
    page.get_by_role("link", name="Train").click()  # away and back again
    page.get_by_text("Train an autoencoder").wait_for()
    page.get_by_role("link", name="Explore").click()
    page.get_by_text("of their 30-d codes (k=30)").first.wait_for()
    assert is_run(active_run(page), "dense · k=30 · 2 ep")
    assert not exceptions_on(page)


def test_explore_shows_the_map(server, page):
    page.goto(f"{server}/explore")
    page.get_by_text("map of the codes").first.wait_for()
    for _ in range(600):
        if page.get_by_text("UMAP map of the codes").count():
            break
        time.sleep(0.2)
    page.get_by_text("UMAP map of the codes").wait_for()
    page.wait_for_function("""() => {
        const gd = document.querySelector('.js-plotly-plot');
        return gd && gd._fullData && gd._fullData.reduce((n, t) => n + (t._length || 0), 0)
            >= 10000; }""")
    # a click on a point shows it beside its reconstruction
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    page.locator(".modebar-btn[data-title='Lasso Select']").first.click()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 250, cy - 150)
    page.mouse.down()
    for i in range(41):
        a = 2 * math.pi * i / 40
        page.mouse.move(cx + 250 * math.cos(a + math.pi) , cy + 150 * math.sin(a + math.pi))
    page.mouse.up()
    page.get_by_text("selected digits").first.wait_for()  # a large lasso adds the link's note
    screenshot(page, "explore")
    # a fresh view (pan tool, where a click selects): the map's empty lower-left corner
    page.goto(f"{server}/explore")
    page.get_by_text("UMAP map of the codes").wait_for()
    time.sleep(1)
    x, y = page.evaluate("""() => {
        const gd = document.querySelector('.js-plotly-plot');
        const t = gd._fullData.find(t => t.name === 'empty place');
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const r = gd.getBoundingClientRect();
        return [r.left + xa._offset + xa.d2p(t.x[0]), r.top + ya._offset + ya.d2p(t.y[0])];
    }""")
    page.mouse.move(x, y)
    time.sleep(0.5)
    page.mouse.click(x, y)
    page.get_by_text("What lives at").wait_for()
    assert not exceptions_on(page)


def test_draw_page_refuses_a_bad_upload(server, page, tmp_path):
    page.goto(f"{server}/draw")
    fake = tmp_path / "digit.png"
    fake.write_text("this is not an image")
    page.locator("input[type=file]").set_input_files(str(fake))
    page.get_by_text("That image cannot be used").wait_for()
    assert "not a PNG" in page.get_by_text("That image cannot be used").inner_text()
    assert not exceptions_on(page)


def test_draw_a_seven(server, page, default_run):
    """On the classic recipe's run, linked by its id, whose drawing head the MNIST tests
    trained (a head trained from the page is test_e2e_variants')."""
    draw_stroke(page, server, [(70, 60), (210, 60), (123, 250)], steps=25,
                run=default_run["run_id"])
    wait_for_active_run(page, "dense · k=32 · 10 ep")
    verdict = page.get_by_text("It looks like")
    verdict.wait_for()
    page.get_by_text("of our canvas-style digits").wait_for()  # the stored head's answer
    time.sleep(1)
    screenshot(page, "draw")
    assert "7" in verdict.inner_text()
    assert page.get_by_text("unlike every test digit").count() == 0  # a digit is no scribble
    assert not exceptions_on(page)


def test_every_page_renders_without_an_exception(server, page):
    for name in PAGES:
        page.goto(f"{server}/{name}")
        page.locator("h1").first.wait_for()
        time.sleep(2)
        assert not exceptions_on(page), name
        screenshot(page, f"page-{name}")
