"""Server-wide resources (st.cache_resource) and per-session choices (st.session_state).

Cached objects are shared by every session: they are read, never trained or changed in place.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import streamlit as st
import torch

from aecore.analysis import trust
from aecore.analysis.classify import NeighbourVote
from aecore.core.config import HeadConfig, ProjectionConfig
from aecore.core.errors import AecoreError
from aecore.data import datasets
from aecore.runs import compare, mapping, pipeline, store
from aecore.services import sweep
from aecore.services.jobs import Tasks, TrainingQueue
from aecore.services.worker import Worker
from aecore.training import latents
from aecore.training.loop import pick_device
from dashboard import background, widgets

UMAP = ProjectionConfig(method="umap")
PCA = ProjectionConfig(method="pca")


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


def runs_listing() -> list[dict]:
    """Every stored run's summary, read again only when a run was written or removed."""
    return _runs_listing(store.runs_generation())


@st.cache_data(ttl=60, max_entries=2, show_spinner=False)
def _runs_listing(generation: int) -> list[dict]:
    return pipeline.list_runs()


def drawing_scores(dataset_name: str, stored_for: str | None) -> list[compare.DrawingScore]:
    """The stored drawing heads' figures, read again when a run was written or removed, when
    the page's own run has its head stored (`stored_for`, its id) and at least every minute."""
    return _drawing_scores(dataset_name, store.runs_generation(), stored_for)


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def _drawing_scores(dataset_name: str, generation: int,
                    stored_for: str | None) -> list[compare.DrawingScore]:
    return compare.drawing_scores(dataset_name)


def compare_report(dataset_name: str) -> compare.Report:
    """Compare's table: every run's summary and reports, read again only when a run or
    something derived from one was written or removed (not on every rerun)."""
    return _compare_report(dataset_name, store.derived_generation())


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def _compare_report(dataset_name: str, generation: int) -> compare.Report:
    return compare.report(dataset_name)


@st.cache_resource(max_entries=2, show_spinner="Loading the dataset ...")
def dataset(name: str) -> datasets.Dataset:
    return datasets.load(name)


def _run_key(r: pipeline.Run) -> str:
    return f"{r.run_id}-{r.weights_id}"


# A run is cached by its id and its weights' id: a stopped run trained again is a new entry,
# and so is everything derived from it (hash_funcs key each cached function by both ids).
BY_WEIGHTS = {pipeline.Run: _run_key}


def run(run_id: str) -> pipeline.Run:
    """The run as stored now (reads its small manifest to find which weights those are)."""
    weights = pipeline.weights_id(run_id)
    if weights is None:
        return pipeline.load_run(run_id)  # raises RunNotFound with its sentence
    return _run(run_id, weights)


@st.cache_resource(max_entries=8, show_spinner=False)
def _run(run_id: str, weights_id: str) -> pipeline.Run:
    return pipeline.load_run(run_id)


@st.cache_resource(max_entries=4, show_spinner="Encoding the images ...", hash_funcs=BY_WEIGHTS)
def codes(r: pipeline.Run) -> tuple[torch.Tensor, torch.Tensor]:
    return pipeline.codes(r)


@st.cache_resource(max_entries=4, show_spinner="Reconstructing the test images ...",
                   hash_funcs=BY_WEIGHTS)
def test_reconstructions(r: pipeline.Run) -> tuple[np.ndarray, np.ndarray]:
    """(images [10000, 28, 28] in [0, 1], per-image BCE [10000])."""
    test_x = dataset(r.config.dataset).test_x
    recon = latents.decode(r.model, codes(r)[1]).numpy()
    errors = latents.reconstruction_error(r.model, test_x).numpy()
    return recon, errors


@st.cache_resource(max_entries=8, show_spinner=False, hash_funcs=BY_WEIGHTS)
def map_result(r: pipeline.Run, method: str) -> pipeline.MapResult:
    return pipeline.embed(r, UMAP if method == "umap" else PCA)


class ShownMap(NamedTuple):
    result: pipeline.MapResult
    final: bool   # the UMAP map; else the PCA map, shown while UMAP fits
    state: str    # the UMAP job's: ready, running, failed


def current_map(r: pipeline.Run) -> ShownMap:
    """The UMAP map when stored; else the PCA map at once while the UMAP map fits."""
    state = background.follow(tasks(), map_job(r))
    method = "umap" if state == "ready" else "pca"
    return ShownMap(map_result(r, method), state == "ready", state)


def map_without_hurry(r: pipeline.Run) -> ShownMap:
    """The UMAP map if it is stored, else the PCA map, and no job hurried: Draw's map while
    its drawing head trains in the same worker (the head's answer goes first)."""
    ready = pipeline.is_valid(map_job(r).folder)
    return ShownMap(map_result(r, "umap" if ready else "pca"), ready,
                    "ready" if ready else "running")


def map_job(r: pipeline.Run, ahead: bool = False) -> background.Job:
    return background.map_job(r, UMAP, mapper(), ahead)


def derived_job(kind: str, r: pipeline.Run, ahead: bool = False) -> background.Job:
    """A UMAP-based result of the run (see background.KINDS) in the map worker."""
    return background.derived_job(kind, r, UMAP, mapper(), ahead)


@st.cache_resource(max_entries=4, show_spinner=False, hash_funcs=BY_WEIGHTS)
def training_maps(r: pipeline.Run) -> mapping.TrainingMaps:
    return mapping.embed_over_training(r, UMAP)


@st.cache_resource(max_entries=8, show_spinner=False, hash_funcs=BY_WEIGHTS)
def readable_snapshots(r: pipeline.Run) -> bool:
    """True, or NoSnapshots (read and checked once per weights: the map over training is
    never started on snapshots that cannot be read)."""
    mapping.snapshots(r)
    return True


@st.cache_resource(max_entries=2, show_spinner=False, hash_funcs=BY_WEIGHTS)
def all_map(r: pipeline.Run, method: str) -> pipeline.MapResult:
    return mapping.embed_all(r, UMAP if method == "umap" else PCA)


@st.cache_resource(max_entries=2, show_spinner="Reconstructing all 70,000 images ...",
                   hash_funcs=BY_WEIGHTS)
def all_errors(r: pipeline.Run) -> np.ndarray:
    """float [70000]: each digit's reconstruction BCE, in the order of the map of all digits."""
    return latents.reconstruction_error(r.model, mapping.all_images(dataset(r.config.dataset))
                                        ).numpy()


@st.cache_resource(max_entries=4, show_spinner=False, hash_funcs=BY_WEIGHTS)
def map_trust(r: pipeline.Run) -> mapping.Trust:
    return mapping.map_trust(r, UMAP)


@st.cache_resource(max_entries=4, show_spinner="Measuring the test images' spacing ...",
                   hash_funcs=BY_WEIGHTS)
def own_distances(r: pipeline.Run) -> np.ndarray:
    """Each test code's distance to its nearest other test code, sorted (Draw's novelty)."""
    return trust.own_nearest_distances(codes(r)[1])


def start_map(r: pipeline.Run) -> None:
    """The Train page starts the UMAP map as soon as a training ends (one fit, a few seconds),
    so that it is usually ready when Explore opens; asked ahead of need, so what a page waits
    on goes first. The map over training (a fit per snapshot: 13 for a 10-epoch run, 23 for
    20) starts when a person picks it: on a server shared by a class, fitting it after every
    training took a CPU-minute per run that nobody might look at."""
    background.start(tasks(), map_job(r, ahead=True))


@st.cache_resource(max_entries=8, show_spinner=False, hash_funcs=BY_WEIGHTS)
def variational_stats(r: pipeline.Run):
    return pipeline.variational_stats(r)


def head_job(r: pipeline.Run, head: str) -> background.Job:
    return background.head_job(r, HeadConfig(head=head), mapper())


# The Draw page's head: an MLP trained on the codes of the training digits and of jittered
# copies of them (slant, rotation, stroke width), which reads drawings better.
DRAW_HEAD = compare.DRAW_HEAD


def draw_head_job(r: pipeline.Run) -> background.Job:
    return background.head_job(r, DRAW_HEAD, mapper())


def draw_head(r: pipeline.Run) -> pipeline.HeadResult | None:
    """The drawing head if it was trained, without training it."""
    return _draw_head(r) if pipeline.is_valid(pipeline.head_folder(r, DRAW_HEAD)) else None


@st.cache_resource(max_entries=4, show_spinner=False, hash_funcs=BY_WEIGHTS)
def _draw_head(r: pipeline.Run) -> pipeline.HeadResult:
    return pipeline.classify(r, DRAW_HEAD)


@st.cache_resource(max_entries=4, show_spinner="Encoding the images ...", hash_funcs=BY_WEIGHTS)
def neighbour_vote(r: pipeline.Run) -> NeighbourVote:
    """Draw's answer while its head trains: the vote of the nearest training codes."""
    return NeighbourVote(codes(r)[0], dataset(r.config.dataset).train_y)


def stored_head(r: pipeline.Run, name: str | None = None) -> pipeline.HeadResult | None:
    """A head trained before (mlp preferred when no name is given), without training one."""
    found = pipeline.stored_head_name(r, (name,) if name else pipeline.PREFERRED_HEADS)
    return head_result(r, found) if found else None


@st.cache_resource(max_entries=8, show_spinner=False, hash_funcs=BY_WEIGHTS)
def head_result(r: pipeline.Run, head: str) -> pipeline.HeadResult:
    return pipeline.classify(r, HeadConfig(head=head))


@st.cache_resource(max_entries=8, show_spinner=False, hash_funcs=BY_WEIGHTS)
def predictions(r: pipeline.Run, head: str) -> np.ndarray:
    """The head's class for each test code, once per run and head (not on every rerun)."""
    return head_result(r, head).head.predict(codes(r)[1])


def stored_predictions(r: pipeline.Run) -> np.ndarray | None:
    """The test codes' classes by the head trained before (mlp preferred), if any."""
    found = pipeline.stored_head_name(r, pipeline.PREFERRED_HEADS)
    return predictions(r, found) if found else None


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


@st.cache_resource(max_entries=4, show_spinner="Comparing the neighbourhoods ...",
                   hash_funcs=BY_WEIGHTS)
def neighbour_change(a: pipeline.Run, b: pipeline.Run) -> compare.NeighbourChange:
    return compare.neighbour_change(codes(a)[1], codes(b)[1])


@dataclass(frozen=True)
class TestSet:
    """What the pages show of the active run's dataset: read-only, shared."""
    data: datasets.Dataset
    names: list[str]
    images: np.ndarray  # float [10000, 28, 28] in [0, 1]
    labels: np.ndarray  # int [10000]


def test_set(r: pipeline.Run) -> TestSet:
    data = dataset(r.config.dataset)
    return TestSet(data, data.label_names, _test_images(r.config.dataset), data.test_y.numpy())


@st.cache_resource(max_entries=2, show_spinner=False)
def _test_images(name: str) -> np.ndarray:
    return dataset(name).test_x.numpy() / 255.0


@contextlib.contextmanager
def errors_shown() -> Iterator[None]:
    """The engine's typed errors become an error box; the app keeps running."""
    try:
        yield
    except AecoreError as exc:
        st.error(widgets.message(exc))
