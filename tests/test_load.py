"""Load: eight browser sessions browse every page while a ninth trains (loopback only)."""

from __future__ import annotations

import re
import time

import pytest

from aecore.bench_ui import slide_to
from tests.e2e import browser, exceptions_on, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.mnist, pytest.mark.slow]
PAGES = ["train", "explore", "reconstruct", "classify", "draw"]
SESSIONS = 8
ROUNDS = 2


@pytest.fixture(scope="module")
def server(app_server):
    return app_server


def test_eight_sessions_browse_while_one_trains(server):
    with browser() as b:
        trainer = b.new_page()
        trainer.set_default_timeout(300_000)
        trainer.goto(server)
        trainer.get_by_text("Train an autoencoder").wait_for()
        slide_to(trainer, "Epochs", 3)  # of the default dense model
        trainer.get_by_role("button", name="Train", exact=True).click()
        # The job's own progress, not the "Epochs" slider's label (a lost click went unseen).
        trainer.get_by_text(re.compile(r"Epoch \d+ of 3|trained 3 epochs")).first.wait_for()

        pages = [b.new_context().new_page() for _ in range(SESSIONS)]
        problems: list[str] = []
        visits = 0
        for round_ in range(ROUNDS):
            for i, page in enumerate(pages):
                name = PAGES[(i + round_) % len(PAGES)]
                page.goto(f"{server}/{name}", timeout=120_000)
                page.locator("h1").first.wait_for(timeout=120_000)
                visits += 1
            time.sleep(1)
            for i, page in enumerate(pages):
                if errors := exceptions_on(page):
                    problems.append(f"session {i}: {errors}")
        trainer.get_by_text("trained 3 epochs").wait_for()
        screenshot(trainer, "load-trainer")
        assert not problems, problems
        assert not exceptions_on(trainer)
        assert visits == SESSIONS * ROUNDS
