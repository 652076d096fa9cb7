"""In Chromium, on the real path (server, queue, worker process): a VAE trained from the
page shows its KL term live and its KL views; then a denoising run, trained next, cleans a
drawing on the Draw page."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from benchmarks.ui import slide_to
from tests.e2e import (
    BROWSER_TEST,
    WAIT_MS,
    alert,
    draw_stroke,
    exceptions_on,
    full_chart,
    new_page,
    screenshot,
    train_and_watch,
    wait_for_active_run,
)

BETA_2_INDEX = 4  # β = 2.0 among the Train page's options (0.1, 0.2, 0.5, 1, 2, 4, 10)
pytestmark = BROWSER_TEST


def choose(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option).first.click()


def test_a_vae_then_a_denoising_run(server_url):
    with new_page() as page:
        page.goto(server_url)
        page.get_by_text("Train an autoencoder").wait_for()
        choose(page, "Model", "vae (variational, deep dense)")
        slide_to(page, "β: weight of the KL term (VAE)", BETA_2_INDEX)
        assert page.get_by_role("slider", name="β: weight of the KL term (VAE)").get_attribute(
            "aria-valuetext") == "2.0"
        slide_to(page, "Epochs", 3)  # about 20 s: several of the chart's 4-second redraws
        seen = train_and_watch(page, "trained 3 epochs:")
        # Drawn while it ran: part of the batch line (a short run can end between two of
        # the chart's 4-second redraws, so its epoch markers may go from 0 to all at once).
        final = full_chart(page, 3).batches
        assert any(c.running and 0 < c.batches < final for c in seen[:-1]), Counter(seen)
        wait_for_active_run(page, "vae · k=32 · 3 ep · β 2")
        page.get_by_text("units active").first.wait_for()
        page.get_by_text("KL, nats per image").first.wait_for()  # the loss chart's KL panel
        screenshot(page, "train-vae")

        page.get_by_role("link", name="Reconstructions").click()
        page.get_by_role("tab", name="Samples from the prior").click()
        page.get_by_text("Codes drawn from the prior").wait_for()
        page.get_by_role("tab", name="Codes").click()
        page.get_by_text("units active").first.wait_for()
        page.get_by_role("tab", name="Traversal").click()
        page.get_by_text("dimensions with the highest KL").wait_for()
        screenshot(page, "reconstruct-vae")
        assert not exceptions_on(page)

        page.get_by_role("link", name="Train").click()
        page.get_by_text("Train an autoencoder").wait_for()
        choose(page, "Model", "dense (784-k-784, the classic)")
        slide_to(page, "Denoising: masked share of input pixels", 0.3)
        slide_to(page, "Epochs", 1)
        alert(page, "trained 3 epochs:").first.wait_for(state="detached")
        train_and_watch(page, "trained 1 epoch:")
        wait_for_active_run(page, "dense · k=32 · 1 ep · noise 0.3")

        draw_stroke(page, server_url, [(70, 60), (210, 60), (123, 250)], steps=25)
        # An answer at once: the nearest codes' vote while the drawing head trains (in the map
        # worker, after both runs' maps), then the head's own.
        page.get_by_text("It looks like").wait_for(timeout=WAIT_MS)
        vote, own = (page.get_by_text(re.compile(text)) for text in (
            r"the vote of the drawing's 10 nearest training digits", r"of our canvas-style digits"))
        assert vote.count() + own.count() == 1, "the answer does not say whose it is"
        own.wait_for(timeout=WAIT_MS)
        assert vote.count() == 0
        page.get_by_text("Mask 30% of its pixels").click()
        page.get_by_text("noisy drawing | the model's output | your drawing").wait_for()
        screenshot(page, "draw-denoising")
        assert not exceptions_on(page)


@pytest.fixture(scope="module")
def server_url(app_server):
    return app_server
