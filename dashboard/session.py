"""What belongs to one browser session: its widget values across pages, its own trainings,
and which run is active. A session's active run changes only by its own choice or when a
training it started ends; a session that watches another's training never takes its run.
"""

from __future__ import annotations

import contextlib
import time
import uuid

import streamlit as st

from aecore.core.errors import AecoreError
from aecore.data import datasets
from aecore.runs import pipeline
from aecore.services.jobs import JobStatus, TrainingQueue
from dashboard import cached, derive, server, widgets

# Streamlit forgets a widget's value when a page without that widget runs, so leaving Train
# for Explore and coming back reset the sliders (and trained the defaults): every widget a
# person sets is created with persist_state=KEEP, the one way its value is kept. Widgets whose
# range depends on the run (the traversal's dimension, the map's x/y) are not.
KEEP = "session"


def _own() -> dict[str, float]:
    """This session's job ids, in the order submitted, with the time each was submitted."""
    return st.session_state.setdefault("own_jobs", {})


def token() -> str:
    """This session's secret: what it starts, it alone may stop (a link never carries it)."""
    return st.session_state.setdefault("owner_token", uuid.uuid4().hex)


def submit(queue: TrainingQueue, cfg) -> str:
    job_id = queue.submit(cfg, "auto", owner=token())
    _own().setdefault(job_id, time.monotonic())
    return job_id


def stop(queue: TrainingQueue, job_id: str) -> None:
    """This session's Stop or Cancel. A job others also wait for goes on for them: this
    session lets go of it, and its run is no longer this session's to activate."""
    if not queue.stop_as(job_id, token()):
        _own().pop(job_id, None)


def is_own(job_id: str) -> bool:
    return job_id in _own()


def own_statuses(queue: TrainingQueue) -> list[JobStatus]:
    return [s for job_id in _own() if (s := queue.status(job_id)) is not None]


def picked_run() -> None:
    """on_change of the sidebar's run picker: a run chosen by hand is not replaced by a
    training that was started before the choice."""
    st.session_state["picked_at"] = time.monotonic()


def settle_own_trainings() -> None:
    """Activate the run of this session's newest training that ended since the last look,
    unless a run was picked by hand after it was started; its UMAP map starts fitting."""
    handled = st.session_state.setdefault("handled_jobs", set())
    picked_at = st.session_state.get("picked_at", float("-inf"))
    queue = server.training_queue()
    for job_id, submitted in _own().items():
        status = queue.status(job_id)
        if job_id in handled or status is None or not status.finished:
            continue
        handled.add(job_id)
        if status.run_id and submitted > picked_at:
            st.session_state["activate_run"] = status.run_id
    if (run_id := st.session_state.get("activate_run")) is not None:
        with contextlib.suppress(AecoreError):  # a run that is gone is not activated anyway
            derive.start_map(cached.run(run_id))


def note(message: str) -> None:
    """A message for the next run of the page (a rerun would wipe one shown now)."""
    st.session_state["note"] = message


def show_note() -> None:
    if message := st.session_state.pop("note", None):
        st.warning(widgets.plain(message))


def active_run() -> pipeline.Run | None:
    """The session's active run. One that cannot be read any more (deleted, or moved aside as
    corrupt) is dropped with a note, and the sidebar picks another run."""
    run_id = st.session_state.get("run_id")
    if not run_id:
        return None
    try:
        return cached.run(run_id)
    except AecoreError as exc:
        note(f"The active run could not be opened, so another one is active now: {exc}")
        st.session_state.pop("run_id", None)
        st.rerun()


def dataset_of(run: pipeline.Run) -> datasets.Dataset:
    """The run's dataset; when it cannot be read, why in an error box, and the page stops."""
    with widgets.errors_shown():
        return cached.dataset(run.config.dataset)
    st.stop()


def require_run() -> pipeline.Run:
    """The active run, or a note that points to Train and stops the page."""
    r = active_run()
    if r is None:
        st.info("There is no trained run for this dataset yet: train one first.")
        st.page_link("views/train.py", label="Go to Train", icon=":material/model_training:")
        st.stop()
    return r
