"""In Chromium, on the real path (server, queue, worker process): set a view, open its URL in a
new browser, compare; a link to a run the server lacks; download what the pages offer; open the
HTML report with the network off."""

from __future__ import annotations

import io
import re
import time
from urllib.parse import parse_qs, urlparse

import pandas as pd
from PIL import Image

from benchmarks import ui
from tests.e2e import (
    BROWSER_TEST,
    WAIT_MS,
    active_run,
    alert,
    download,
    exceptions_on,
    new_page,
    pick_run,
    screenshot,
    shared_browser,
)

pytestmark = BROWSER_TEST
MAP_TITLE = "UMAP map of the codes of the 10,000"


def wait_for_map(page) -> None:
    page.get_by_text("Explore the latent map").wait_for()
    page.locator(".st-key-map").get_by_text(MAP_TITLE).wait_for(timeout=WAIT_MS)
    time.sleep(1)


def view_of(page) -> dict:
    checked = page.locator("[data-testid='stRadio'] input:checked")
    return {"run": active_run(page),
            "radios": [checked.nth(i).evaluate("e => e.closest('label').innerText")
                       for i in range(checked.count())],
            "gallery": ui.gallery_text(page)}


def test_a_link_reopens_the_view_and_downloads_work(app_server, tmp_path):
    """On the session's two real runs (trained by the MNIST tests; training from the page is
    test_e2e's): a classifier trained from the page on the conv run (its baselines are the
    MNIST tests'), then a link to a view of the dense run, which must name the run that was
    picked, not the newest."""
    with new_page() as page:
        page.goto(app_server)
        page.get_by_text("Train an autoencoder").wait_for()
        pick_run(page, "conv · k=32 · 10 ep")

        page.get_by_role("link", name="Classifier").click()
        page.get_by_role("button", name="Train classifier").click()
        confusion = pd.read_csv(download(page, "Confusion matrix (CSV)"))
        assert confusion.shape == (10, 11) and confusion.iloc[:, 1:].to_numpy().sum() == 10_000
        per_class = pd.read_csv(download(page, "Per-class accuracy (CSV)"))
        assert per_class["test_count"].sum() == 10_000
        assert per_class["accuracy"].between(0.5, 1).all()

        pick_run(page, "dense · k=32 · 10 ep")
        page.get_by_role("link", name="Explore").click()
        wait_for_map(page)
        page.get_by_text("reconstruction error", exact=True).click()
        # The new figure replaces the chart once drawn: a lasso before that is lost with it.
        page.locator(".st-key-map .colorbar").first.wait_for(timeout=300_000)
        time.sleep(2)
        ui.lasso_to_gallery(page, tries=1)
        view = view_of(page)
        assert "selected digits" in view["gallery"]
        assert "reconstruction error" in view["radios"]
        query = parse_qs(urlparse(page.url).query)
        assert query["colour"] == ["error"] and query["map"] == ["test"]
        assert len(query["run"][0]) == 12 and query["digits"][0].count(",") >= 1
        link = page.url
        print("link:", link[:160], "...")

        table = pd.read_csv(download(page, "The map (CSV)"))
        assert len(table) == 10_000
        columns = ["index", "x", "y", "label", "reconstruction_error", "prediction"]
        # "trust" too: the MNIST tests measured this map's trust
        assert list(table.columns) in (columns, [*columns, "trust"]), list(table.columns)
        assert (table["label"] == table["prediction"]).mean() > 0.8
        chosen = [int(i) for i in query["digits"][0].split(",")]
        picked = pd.read_csv(download(page, "Selection (CSV)"))
        assert picked["index"].tolist() == chosen and "z31" in picked.columns
        grid = Image.open(download(page, re.compile(r"^Selection \(PNG")))
        assert grid.size[0] >= 58 and grid.size[1] >= 28

        page.get_by_role("link", name="Train").click()  # away, and back: the selection stays
        page.get_by_text("Train an autoencoder").wait_for()
        page.get_by_role("link", name="Explore").click()
        wait_for_map(page)
        page.get_by_text("selected digits").first.wait_for()
        assert view_of(page) == view and page.url == link
        page.go_back()  # one step of history per page switch
        page.get_by_text("Train an autoencoder").wait_for()
        assert urlparse(page.url).path == "/"
        page.go_forward()
        wait_for_map(page)
        assert page.url == link

        page.get_by_text("Download this run").click()
        sidebar = page.locator("[data-testid='stSidebar']")
        weights = open(download(page, "Weights (safetensors)", sidebar), "rb").read()
        assert weights[8:9] == b"{"  # safetensors: an 8-byte header size, then its JSON
        report = tmp_path / "report.html"
        report.write_bytes(open(download(page, "Report (one HTML file)", sidebar), "rb").read())
        assert not exceptions_on(page)

    with new_page() as fresh:  # another browser: nothing shared but the URL
        fresh.goto(link)
        wait_for_map(fresh)
        fresh.get_by_text("selected digits").first.wait_for()
        assert view_of(fresh) == view
        assert parse_qs(urlparse(fresh.url).query) == query
        screenshot(fresh, "link-reopened")

        fresh.goto(f"{app_server}/explore?run=0123456789ab&colour=error")
        alert(fresh, "This link names run 0123456789ab").wait_for()
        fresh.get_by_text("Train an autoencoder").wait_for()
        assert urlparse(fresh.url).path in ("", "/")
        assert not exceptions_on(fresh)

        fresh.goto(f"{app_server}/train?dataset=fashion")  # the path Train's title suggests
        fresh.get_by_text("Train an autoencoder").wait_for()
        time.sleep(2)  # Streamlit's "Page not found" dialog comes after the page
        assert not fresh.get_by_text("Page not found").count()
        assert "Fashion" in fresh.get_by_role("combobox", name="Dataset").input_value()

    context = shared_browser().new_context(offline=True)  # the report, with the network off
    try:
        fetched = []
        context.route("**/*", lambda route: (fetched.append(route.request.url),
                                             route.continue_()
                                             if route.request.url.startswith(("file:", "data:"))
                                             else route.abort()))
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        page.locator(".js-plotly-plot .main-svg").first.wait_for()
        for _ in range(100):
            if page.locator(".js-plotly-plot").count() >= 5:
                break
            time.sleep(0.2)
        assert page.locator(".js-plotly-plot").count() == 5  # loss, map, 3 of the classifier
        drawn = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].map(
            gd => gd._fullData.reduce((n, t) => n + (t._length || 0), 0))""")
        assert max(drawn) >= 10_000, drawn  # the map's 10,000 digits, drawn by plotly
        assert page.evaluate("() => [...document.images].every(i => i.naturalWidth > 0)")
        assert not errors, errors
        outside = [u for u in fetched if not u.startswith(("file:", "data:"))]
        assert not outside, outside
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        image = Image.open(io.BytesIO(page.screenshot(full_page=True)))
        assert image.size[1] > 2000
    finally:
        context.close()

