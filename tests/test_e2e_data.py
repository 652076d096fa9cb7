"""In Chromium, on the real path (server, queue, worker process): a zip of a folder of
rendered shapes uploaded on the Data page, trained on, mapped, classified and exported; its
suspect labels found, one marked wrong (seen from a second tab), the corrections downloaded, a
head retrained with them, and a suspect shown on the map."""

from __future__ import annotations

import pandas as pd

from benchmarks.shapes import CLASSES, make_folder, make_zip
from benchmarks.ui import slide_to
from tests.e2e import (
    BROWSER_TEST,
    WAIT_MS,
    alert,
    download,
    exceptions_on,
    new_page,
    screenshot,
    train_and_watch,
    wait_for_active_run,
)

pytestmark = BROWSER_TEST


def test_a_zip_uploaded_trained_mapped_and_classified(app_server, tmp_path):
    archive = make_zip(make_folder(tmp_path / "shapes", per_class=40), tmp_path / "shapes.zip")
    with new_page() as page:
        page.goto(f"{app_server}/data")
        page.get_by_text("Your own images").first.wait_for()
        page.locator("input[type=file]").set_input_files(str(archive))
        page.get_by_role("textbox", name="Name").fill("shapes")
        page.get_by_role("button", name="Add the dataset").click()
        alert(page, "Added shapes: 240 images").first.wait_for(timeout=WAIT_MS)
        page.get_by_text("shapes: 240 images").first.wait_for()
        # The same zip again, as a second click or a second person would: one sentence, and
        # the first dataset stays as it was.
        page.get_by_role("button", name="Add the dataset").click()
        alert(page, "a dataset called 'shapes' exists").first.wait_for(timeout=WAIT_MS)
        page.get_by_text("shapes: 240 images").first.wait_for()
        screenshot(page, "data")
        # The sidebar's picker holds it, and it is the active dataset.
        assert page.get_by_role("combobox", name="Dataset").input_value() == "shapes (your images)"

        page.get_by_role("link", name="Train").click()
        page.get_by_text("Train an autoencoder").wait_for()
        slide_to(page, "Epochs", 2)
        train_and_watch(page, "trained 2 epochs:")
        wait_for_active_run(page, "dense · k=32 · 2 ep")

        page.get_by_role("link", name="Explore").click()
        page.get_by_text("36 images, UMAP").first.wait_for(timeout=WAIT_MS)
        page.get_by_role("link", name="Classifier").click()
        page.get_by_role("button", name="Train classifier").click()
        page.get_by_text("Misclassified test images").wait_for(timeout=WAIT_MS)

        # Exported as MNIST's runs are: the map's table and the run's one-file report.
        page.get_by_role("link", name="Explore").click()
        page.get_by_text("36 images, UMAP").first.wait_for(timeout=WAIT_MS)
        table = pd.read_csv(download(page, "The map (CSV)"))
        assert len(table) == 36 and set(table["label"]) == set(CLASSES)
        page.get_by_text("Download this run").click()
        sidebar = page.locator("[data-testid='stSidebar']")
        report = open(download(page, "Report (one HTML file)", sidebar), encoding="utf-8").read()
        assert "shapes" in report and "circle" in report and "data:image/png;base64," in report
        page.get_by_role("link", name="Draw").click()  # grey 28x28 with labels: drawable
        page.get_by_role("heading", name="Draw an image").wait_for()
        assert not exceptions_on(page)

        page.get_by_role("link", name="Data quality").click()
        page.get_by_role("button", name="Find suspect labels in the test split").click()
        page.get_by_text("most doubtful of 36 test images").wait_for(timeout=WAIT_MS)
        # the worst suspect's caption: "#i · given → suggested"
        worst = page.locator("[data-testid='stMain'] [data-testid='stText']").first.inner_text()
        index = int(worst.split(" ")[0].lstrip("#"))
        main = page.locator("[data-testid='stMain']")
        main.get_by_text("wrong", exact=True).first.click()  # the worst suspect's label
        page.get_by_text("1 marked on shapes: 1 labels wrong").wait_for(timeout=WAIT_MS)
        corrections = pd.read_csv(download(page, "Corrections (CSV)"))
        assert corrections.to_dict("records")[0]["index"] == index
        assert list(corrections.columns) == ["split", "index", "given", "corrected"]
        page.get_by_role("button", name="Retrain the head with the corrections").click()
        page.get_by_text("Retrained on the corrected labels").wait_for(timeout=WAIT_MS)
        with new_page() as other:  # another person on the same server sees the verdict
            other.goto(f"{app_server}/quality?dataset=shapes")
            other.get_by_text("1 marked on shapes").wait_for(timeout=WAIT_MS)
        page.get_by_role("button", name="On the map").first.click()
        page.get_by_text("1 selected image").first.wait_for(timeout=WAIT_MS)
        assert not exceptions_on(page)
