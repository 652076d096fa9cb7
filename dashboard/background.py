"""Background artefacts (a run's UMAP map, its classifier heads), one way for every page, and
`watch`: the one way a page waits on anything the server works on (an artefact, a training,
a sweep).

A page asks `follow(job)` where it would show the artefact. The helper owns the task's key,
starting it, polling it, and its end states: stored -> "ready"; running -> a fragment polls
and reruns the page when the task ends; failed -> one error with a Retry button, and the
polling stops; done but not on disk (moved aside, or its run trained again) -> computed once
more, then reported as a failure. No page polls a task that has ended.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from aecore.core.config import HeadConfig, ProjectionConfig
from aecore.core.errors import AecoreError
from aecore.data import datasets
from aecore.runs import compare, derived, pipeline
from aecore.services.jobs import Task, Tasks
from aecore.services.worker import Worker
from dashboard import widgets

# Every page's wait (a training's progress, a sweep's, a map's): each tick resends a training's
# chart, and at 1 s the app trained 1.4x to 1.8x slower than the CLI (views/train.py).
POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Job:
    key: str                # the task's key: what and for exactly which weights
    folder: Path            # the artefact; the job is ready when it is stored
    fit: Callable[[], object]
    what: str               # "the UMAP map", for messages
    hurry: Callable[[], object] = lambda: None  # once a page waits on it, it goes first


def derived_job(kind: str, run: pipeline.Run, cfg: ProjectionConfig | HeadConfig,
                worker: Worker | None, ahead: bool = False) -> Job:
    """The job computing one derived result of the run: in the worker, else in-process.
    Asked `ahead` of need, it lets the worker serve what a page waits on first."""
    folder, compute, _, what = derived.KINDS[kind]
    name = what.format(method=getattr(cfg, "method", "").upper(), head=getattr(cfg, "head", ""))
    prefix = "map" if kind == "embed" else "head" if kind == "classify" else kind
    key = f"{prefix}-{run.run_id}-{run.weights_id}-{cfg.key()}"
    if worker is None:
        return Job(key, folder(run, cfg), lambda: compute(run, cfg), name)
    return Job(key, folder(run, cfg),
               lambda: worker.derive(kind, run, cfg, name=key, urgent=not ahead), name,
               lambda: worker.hurry(key))


def map_job(run: pipeline.Run, cfg: ProjectionConfig, worker: Worker | None,
            ahead: bool = False) -> Job:
    return derived_job("embed", run, cfg, worker, ahead)


def head_job(run: pipeline.Run, cfg: HeadConfig, worker: Worker | None, ahead: bool = False) -> Job:
    return derived_job("classify", run, cfg, worker, ahead)


def sweep_derive(tasks: Tasks, worker: Worker | None) -> Callable[[pipeline.Run], None]:
    """A sweep's heads and map for one run, as the same tasks the pages follow (so a page
    open on that run shows them fitting, and hurries them); it waits for each and raises if
    one failed. Asked ahead: no page waits on them until one follows them."""
    def derive(run: pipeline.Run) -> None:
        heads = compare.HEADS.values() if datasets.classes(run.config.dataset) else ()
        jobs = [*(head_job(run, cfg, worker, ahead=True) for cfg in heads),
                map_job(run, compare.MAP, worker, ahead=True),
                derived_job("clusters", run, compare.MAP, worker, ahead=True)]
        for job in jobs:
            if pipeline.is_valid(job.folder):
                continue
            task = tasks.get(job.key)  # an ended task (failed, or its result gone) runs again
            task = start(tasks, job, retry=task is not None,
                         recompute=task is not None and task.state == "done")
            task.ended.wait()
            if task.state == "failed":
                raise AecoreError(f"{job.what} failed: {task.error}")
    return derive


def start(tasks: Tasks, job: Job, retry: bool = False, recompute: bool = False) -> Task:
    return tasks.start(job.key, job.fit, retry=retry, recompute=recompute)


def follow(tasks: Tasks, job: Job, start_now: bool = True) -> str:
    """"ready", "running", "failed", or "absent" (not started, and `start_now` is False)."""
    if pipeline.is_valid(job.folder):
        return "ready"
    task = tasks.get(job.key)
    if task is None and not start_now:
        return "absent"
    if task is None:
        task = start(tasks, job)
    elif task.state == "done" and not task.recompute:  # its result went missing: once more
        task = start(tasks, job, retry=True, recompute=True)
    if task.state == "running":
        job.hurry()
        _poll(tasks, job.key, str(job.folder))
        return "running"
    error = task.error or f"it was computed but is not in the cache ({job.folder})"
    st.error(widgets.message(f"Computing {job.what} failed: {error}"))
    if st.button("Retry", key=f"retry-{job.key}", icon=":material/refresh:"):
        start(tasks, job, retry=True)
        st.rerun()
    return "failed"


def _poll(tasks: Tasks, key: str, folder: str) -> None:
    """Reruns the page once the task has ended; the page then shows what came of it."""
    def running(task: Task | None) -> bool | None:
        return (task is not None and task.state == "running"
                and not pipeline.is_stored(Path(folder))) or None

    watch(f"task-{key}", lambda: tasks.get(key), running)


def watch(name: str, read: Callable[[], object], landmark: Callable[[object], Hashable | None],
          draw: Callable[[object], None] | None = None) -> None:
    """Follow something the server works on, every POLL_SECONDS, in a fragment: `read()` its
    state, `draw(state)` its progress there; the whole page reruns when `landmark(state)`
    changes (a result landed that the page shows) or is None (it ended: the page then shows
    the outcome, and no longer watches)."""
    _watch(name, read, landmark, draw)


@st.fragment(run_every=POLL_SECONDS)
def _watch(name: str, read: Callable[[], object], landmark: Callable[[object], Hashable | None],
           draw: Callable[[object], None] | None) -> None:
    state = read()
    mark = landmark(state)
    seen = st.session_state.get(f"watched-{name}", mark)
    st.session_state[f"watched-{name}"] = mark
    if mark is None or mark != seen:
        st.session_state.pop(f"watched-{name}", None)
        st.rerun()
    if draw is not None:
        draw(state)
