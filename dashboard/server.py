"""What one server holds for all its sessions (Streamlit's global resources, created once by
st.cache_resource): the training queue, the map worker, the background tasks, the sweeps."""

from __future__ import annotations

import os

import streamlit as st

from aecore.runs import store
from aecore.services import sweep
from aecore.services.jobs import Tasks, TrainingQueue
from aecore.services.worker import Worker
from aecore.training.loop import pick_device
from dashboard import background


@st.cache_resource
def training_queue() -> TrainingQueue:
    """Training runs in a child process (aecore/services/worker.py); AECORE_TRAINER=thread keeps
    it in this process, which AppTest needs to train on its tiny in-process data."""
    if os.environ.get("AECORE_TRAINER") == "thread":
        return TrainingQueue()
    return TrainingQueue(trainer=Worker().start().train)


@st.cache_resource
def mapper() -> Worker | None:
    """The process that fits maps and heads, at a low CPU priority so that it never slows a
    training; it compiles numba's kernels as soon as it starts.
    None under AECORE_TRAINER=thread (AppTest), where maps are fitted in this process."""
    if os.environ.get("AECORE_TRAINER") == "thread":
        return None
    return Worker(warm=os.environ.get("AECORE_WARMUP", "1") != "0", background=True).start()


@st.cache_resource
def tasks() -> Tasks:
    return Tasks()


@st.cache_resource
def device_name() -> str:
    return str(pick_device("auto"))


@st.cache_resource
def startup() -> int:
    """Once per server: sweep temp files of killed writers, start the map worker (it warms
    numba's compile, so the first UMAP map after a training is not also the first compile)."""
    mapper()
    return store.sweep_temp()


@st.cache_resource
def sweeps() -> dict[str, sweep.Tracker]:
    """Every sweep started on this server, by id: a refreshed tab finds its sweep again."""
    return {}


KEPT_SWEEPS = 20  # finished sweeps the server remembers (a tab finds its own again)


def start_sweep(spec: sweep.SweepSpec) -> sweep.Tracker:
    tracker = sweep.Tracker(spec, training_queue(),
                            background.sweep_derive(tasks(), mapper()))
    known = sweeps()
    finished = [i for i, t in list(known.items()) if t.finished]
    for sweep_id in finished[:max(len(finished) - KEPT_SWEEPS, 0)]:
        known.pop(sweep_id, None)
    known[tracker.sweep_id] = tracker
    return tracker
