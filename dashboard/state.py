"""Server-wide resources (st.cache_resource) and per-session choices (st.session_state).

Cached objects are shared by every session: they are read, never trained or changed in place.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from aecore import data as datasets
from aecore import lab, latents, store
from aecore.config import HeadConfig, ProjectionConfig
from aecore.errors import AecoreError
from aecore.jobs import Tasks, TrainingQueue
from aecore.train import pick_device
from aecore.worker import Worker

UMAP = ProjectionConfig(method="umap")
PCA = ProjectionConfig(method="pca")


@st.cache_resource
def training_queue() -> TrainingQueue:
    """Training runs in a child process (aecore/worker.py); AECORE_TRAINER=thread keeps it in
    this process, which AppTest needs to train on its tiny in-process data."""
    if os.environ.get("AECORE_TRAINER") == "thread":
        return TrainingQueue()
    return TrainingQueue(trainer=Worker().start().train)


@st.cache_resource
def mapper() -> Worker | None:
    """The process that fits maps and heads; it compiles numba's kernels as soon as it starts.
    None under AECORE_TRAINER=thread (AppTest), where maps are fitted in this process."""
    if os.environ.get("AECORE_TRAINER") == "thread":
        return None
    return Worker(warm=os.environ.get("AECORE_WARMUP", "1") != "0").start()


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


@st.cache_data(ttl=3, show_spinner=False)
def runs_listing() -> list[dict]:
    return lab.list_runs()


@st.cache_resource(max_entries=2, show_spinner="Loading the dataset ...")
def dataset(name: str) -> datasets.Dataset:
    return datasets.load(name)


@st.cache_resource(max_entries=8, show_spinner=False)
def run(run_id: str) -> lab.Run:
    return lab.load_run(run_id)


@st.cache_resource(max_entries=4, show_spinner="Encoding the digits ...")
def codes(run_id: str) -> tuple[torch.Tensor, torch.Tensor]:
    return lab.codes(run(run_id))


@st.cache_resource(max_entries=4, show_spinner="Reconstructing the test digits ...")
def test_reconstructions(run_id: str) -> tuple[np.ndarray, np.ndarray]:
    """(images [10000, 28, 28] in [0, 1], per-image BCE [10000])."""
    r = run(run_id)
    test_x = dataset(r.config.dataset).test_x
    recon = latents.decode(r.model, codes(run_id)[1]).numpy()
    errors = latents.reconstruction_error(r.model, test_x).numpy()
    return recon, errors


@st.cache_resource(max_entries=8, show_spinner=False)
def map_result(run_id: str, method: str) -> lab.MapResult:
    return lab.embed(run(run_id), UMAP if method == "umap" else PCA)


def current_map(r: lab.Run) -> tuple[lab.MapResult, bool]:
    """(map, final): the UMAP map when stored; else the PCA map at once while a background
    task fits UMAP."""
    if lab.is_stored(lab.map_folder(r, UMAP)):
        return map_result(r.run_id, "umap"), True
    task = start_map(r)
    if task.state == "failed":
        st.error(f"The UMAP map failed: {task.error}")
    return map_result(r.run_id, "pca"), False


def start_map(r: lab.Run):
    """Fit the run's UMAP map in the background (once); the Train page starts it as soon as a
    training ends, so the map is usually ready when Explore opens."""
    worker = mapper()
    fit = (lambda: worker.embed(r, UMAP)) if worker else (lambda: lab.embed(r, UMAP))
    return tasks().start(f"umap-{r.run_id}", fit)


def stored_head(r: lab.Run, name: str | None = None) -> lab.HeadResult | None:
    """A head trained before (mlp preferred when no name is given), without training one."""
    for head in ([name] if name else ["mlp", "linear"]):
        if lab.is_stored(lab.head_folder(r, HeadConfig(head=head))):
            return head_result(r.run_id, head)
    return None


@st.cache_resource(max_entries=8, show_spinner=False)
def head_result(run_id: str, head: str) -> lab.HeadResult:
    return lab.classify(run(run_id), HeadConfig(head=head))


def start_head(r: lab.Run, head: str, retry: bool = False):
    """Train a head (and its baselines) in the background, in the map worker when there is one."""
    worker, cfg = mapper(), HeadConfig(head=head)
    fit = (lambda: worker.classify(r, cfg)) if worker else (lambda: lab.classify(r, cfg))
    return tasks().start(f"head-{r.run_id}-{head}", fit, retry=retry)


@dataclass(frozen=True)
class TestSet:
    """What the pages show of the active run's dataset: read-only, shared."""
    data: datasets.Dataset
    names: list[str]
    images: np.ndarray  # float [10000, 28, 28] in [0, 1]
    labels: np.ndarray  # int [10000]


def test_set(r: lab.Run) -> TestSet:
    data = dataset(r.config.dataset)
    return TestSet(data, data.label_names, _test_images(r.config.dataset), data.test_y.numpy())


@st.cache_resource(max_entries=2, show_spinner=False)
def _test_images(name: str) -> np.ndarray:
    return dataset(name).test_x.numpy() / 255.0


def active_run() -> lab.Run | None:
    run_id = st.session_state.get("run_id")
    if not run_id:
        return None
    try:
        return run(run_id)
    except AecoreError as exc:
        st.error(str(exc))
        return None


def require_run() -> lab.Run:
    """The active run, or a note that points to Train and stops the page."""
    r = active_run()
    if r is None:
        st.info("There is no trained run for this dataset yet: train one first.")
        st.page_link("views/train.py", label="Go to Train", icon=":material/model_training:")
        st.stop()
    return r


@contextlib.contextmanager
def errors_shown() -> Iterator[None]:
    """The engine's typed errors become an error box; the app keeps running."""
    try:
        yield
    except AecoreError as exc:
        st.error(str(exc))
