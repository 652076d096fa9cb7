"""kill -9 during training and saving: afterwards there is a valid run or none, never half."""

import os
import signal
import subprocess
import sys
import time

import pytest

from aecore.runs import pipeline, store

# Trains tiny runs back to back, each saved (forced), so a kill lands in every phase.
WRITER = """
import sys
from aecore.data import datasets
from aecore.runs import pipeline
from aecore.core.config import TrainConfig
from tests.conftest import make_tiny
tiny = make_tiny()
datasets.load = lambda name="mnist", download=True: tiny
# The first run pays torch's one-off start-up (seconds on a busy machine), so it is not timed:
# after it a run takes a fraction of a second, and the kills land in training and saving alike.
for i in range(10_000):
    cfg = TrainConfig(latent_dim=8, epochs=1, batch_size=64, seed=i % 3)
    for _ in pipeline.train(cfg, device="cpu", force=True):
        pass
    if i == 0:
        print("ready", flush=True)
"""


@pytest.mark.slow
def test_kill_nine_never_leaves_a_partial_run(cache):
    env = {**os.environ, "AECORE_CACHE_DIR": str(cache)}
    delays = [0.05, 0.4, 1.1]  # a tiny run takes about 0.5 s once torch is up: training, saving
    for delay in delays:
        proc = subprocess.Popen([sys.executable, "-c", WRITER], env=env,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        for row in pipeline.list_runs():  # every listed run verifies and loads
            run = pipeline.load_run(row["run_id"])
            assert run.metrics["epochs_done"] == 1
        # nothing listed without its manifest, and no half folder under a run id
        for folder in store.runs_dir().glob("*") if store.runs_dir().exists() else []:
            if not folder.name.startswith(".") and ".corrupt" not in folder.name:
                assert (folder / store.MANIFEST).is_file()
    assert not list(store.runs_dir().glob("*.corrupt-*"))  # nothing was ever corrupt
    store.sweep_temp(older_than=0)
    assert not list(store.runs_dir().glob(".tmp-*"))
    assert len(pipeline.list_runs()) in (1, 2, 3)  # seeds 0-2, whichever finished
