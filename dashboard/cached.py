"""What the pages read of a run, cached server-wide (shared by every session, never changed in
place) and keyed by the run's weights: a stopped run trained again is a new entry, and so is
everything derived from it. Nothing here starts background work (see dashboard/derive.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from aecore.analysis import trust
from aecore.analysis.classify import NeighbourVote
from aecore.core.config import HeadConfig, ProjectionConfig
from aecore.data import datasets
from aecore.runs import compare, mapping, pipeline, store
from aecore.training import latents

UMAP = ProjectionConfig(method="umap")


PCA = ProjectionConfig(method="pca")


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


def dataset(name: str) -> datasets.Dataset:
    """Keyed by the dataset's version too: one removed and added again under its name reloads."""
    return _dataset(name, datasets.version(name))


@st.cache_resource(max_entries=2, show_spinner="Loading the dataset ...")
def _dataset(name: str, version: tuple) -> datasets.Dataset:
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


@st.cache_resource(max_entries=2, show_spinner="Reconstructing every image ...",
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


@st.cache_resource(max_entries=8, show_spinner=False, hash_funcs=BY_WEIGHTS)
def variational_stats(r: pipeline.Run):
    return pipeline.variational_stats(r)


def draw_head(r: pipeline.Run) -> pipeline.HeadResult | None:
    """The drawing head if it was trained, without training it."""
    return _draw_head(r) if pipeline.is_valid(pipeline.head_folder(r, compare.DRAW_HEAD)) else None


@st.cache_resource(max_entries=4, show_spinner=False, hash_funcs=BY_WEIGHTS)
def _draw_head(r: pipeline.Run) -> pipeline.HeadResult:
    return pipeline.classify(r, compare.DRAW_HEAD)


@st.cache_resource(max_entries=4, show_spinner="Encoding the images ...", hash_funcs=BY_WEIGHTS)
def neighbour_vote(r: pipeline.Run) -> NeighbourVote:
    """Draw's answer while its head trains: the vote of the nearest training codes."""
    data = dataset(r.config.dataset)
    return NeighbourVote(codes(r)[0], data.train_y, n_classes=len(data.label_names))


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
    return TestSet(data, data.label_names,
                   _test_images(r.config.dataset, datasets.version(r.config.dataset)),
                   data.test_y.numpy())


@st.cache_resource(max_entries=2, show_spinner=False)
def _test_images(name: str, version: tuple) -> np.ndarray:
    """float32 (a float64 copy of 200,000 colour images would be twice as large)."""
    return dataset(name).test_x.numpy().astype(np.float32) / np.float32(255.0)
