"""Load: five browser sessions, one on each page but Compare (test_e2e_compare's), arrive while
a sixth trains (loopback only)."""

from __future__ import annotations

import re

import pytest

from benchmarks.ui import slide_to
from tests.e2e import BROWSER_TEST, exceptions_on, screenshot, shared_browser

pytestmark = BROWSER_TEST
TITLES = {"train": "Train an autoencoder", "explore": "Explore the latent map",
          "reconstruct": "Reconstructions", "classify": "Classify from the codes",
          "draw": "Draw a digit"}
PAGES = list(TITLES)
SESSIONS = len(PAGES)  # one per page (eight, three pages twice, took up to 83 s)
ROUNDS = 1  # each session opens one page while the trainer trains (two rounds took 66 s)


@pytest.fixture(scope="module")
def server(app_server):
    return app_server


def test_five_sessions_browse_while_one_trains(server):
    b = shared_browser()
    contexts = [b.new_context() for _ in range(SESSIONS + 1)]
    try:
        trainer = contexts[0].new_page()
        trainer.set_default_timeout(300_000)
        trainer.goto(server)
        trainer.get_by_text("Train an autoencoder").wait_for()
        slide_to(trainer, "Latent size k", 10)  # a config no other browser test trains
        slide_to(trainer, "Epochs", 3)
        trainer.get_by_role("button", name="Train", exact=True).click()
        # The job's own progress, not the "Epochs" slider's label (a lost click went unseen).
        trainer.get_by_text(re.compile(r"Epoch \d+ of 3|trained 3 epochs")).first.wait_for()

        pages = [context.new_page() for context in contexts[1:]]
        problems: list[str] = []
        for round_ in range(ROUNDS):
            for i, page in enumerate(pages):  # one after the other, as people arrive
                name = PAGES[(i + round_) % len(PAGES)]
                page.goto(f"{server}/{name}", timeout=120_000)
                title = page.locator("h1").first
                title.wait_for(timeout=120_000)
                if title.inner_text().strip() != TITLES[name]:  # each got the page it asked for
                    problems.append(f"session {i} on /{name}: {title.inner_text()!r}")
            for i, page in enumerate(pages):
                if errors := exceptions_on(page):
                    problems.append(f"session {i}: {errors}")
        trainer.get_by_text("trained 3 epochs").wait_for()
        screenshot(trainer, "load-trainer")
        assert not problems, problems
        assert not exceptions_on(trainer)
    finally:
        for context in contexts:
            context.close()
