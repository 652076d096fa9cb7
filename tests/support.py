"""Helpers the test modules share: the tiny configs, one way to train a tiny run, AppTest's
page visits and bounded polling, and the command of a worker serving the tiny data."""

from __future__ import annotations

import re
import sys
import threading
import time

from streamlit.testing.v1 import AppTest

from aecore.core.config import TrainConfig
from aecore.runs import pipeline
from aecore.training.loop import EpochEvent

# The engine's tests train 3 epochs; the pages' 2 (their maps over training have 5 frames).
TINY = TrainConfig(latent_dim=8, epochs=3, batch_size=32, lr=3e-2)
TINY_PAGES = TrainConfig(latent_dim=8, epochs=2, batch_size=32, lr=3e-2)
TINY_HEAD = dict(epochs=30, batch_size=32, lr=1e-2)
# aecore's worker process serving the tiny data (tests/tiny_worker.py)
TINY_WORKER = [sys.executable, "-m", "tests.tiny_worker"]


def train_tiny(cfg: TrainConfig = TINY, **kw) -> pipeline.RunReady:
    """Train cfg on the data the `tiny` fixture serves (or take it from the cache): the last
    event, whose .run is the stored run."""
    return list(pipeline.train(cfg, device="cpu", **kw))[-1]


def stop_after_one_epoch(cfg: TrainConfig = TINY) -> pipeline.Run:
    stop = threading.Event()
    for event in pipeline.train(cfg, stop=stop, device="cpu"):
        if isinstance(event, EpochEvent):
            stop.set()
    run = pipeline.load_run(cfg.key())
    assert run.metrics["stopped"] and run.metrics["epochs_done"] == 1
    return run


def visit(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def poll(at: AppTest, done, seconds: float = 240) -> AppTest:
    """Rerun until done(at) holds. What it waits for runs in the background, and on a loaded
    machine takes several times longer than on an idle one: the bound is generous, a guard
    against a hang rather than a measure of speed (a count of reruns was, and failed once)."""
    deadline = time.monotonic() + seconds
    while True:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if done(at):
            return at
        if time.monotonic() > deadline:
            raise AssertionError(f"the condition never held in {seconds:.0f} s")
        time.sleep(0.1)


def texts(at: AppTest) -> str:
    """The page's text as a person reads it (Markdown's backslash escapes undone: messages
    that hold outside text are escaped, dashboard.widgets.plain)."""
    parts = [e.value for kind in ("info", "success", "warning", "error", "markdown",
                                  "caption", "subheader", "title")
             for e in getattr(at, kind)]
    return re.sub(r"\\([!-/:-@[-`{-~])", r"\1", "\n".join(str(p) for p in parts))
