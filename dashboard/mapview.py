"""What Explore shows for each kind of map: the map behind clicks, its points' labels and
thumbnails, and its figure, built once per run and choice (a lasso then reruns in a blink)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from aecore.analysis import projection, trust
from aecore.data.datasets import Dataset
from aecore.figures import gallery
from aecore.figures.mapplots import Colouring, map_figure, training_figure
from aecore.runs import mapping, pipeline
from aecore.training import latents
from dashboard import background, cached, derive, server

KINDS = ("test", "training", "all")  # the kinds of map, as links name them too


def kinds(data: Dataset) -> dict[str, str]:
    """The kinds of map, in the words (and the sizes) of the run's dataset."""
    many, test = data.nouns.many, len(data.test_x)
    return dict(zip(KINDS, (f"the {test:,} test {many}", f"the test {many} over training",
                            f"all {test + len(data.train_x):,} {many}"), strict=True))


class View(NamedTuple):
    kind: str
    fitted: projection.Map   # what clicks decode and neighbours use (over training: the last)
    labels: np.ndarray       # int [N]
    final: bool              # the UMAP map; else the PCA map, shown while UMAP fits
    state: str               # the UMAP job's: ready, running, failed
    knn_accuracy_2d: float
    frames: mapping.TrainingMaps | None = None
    waiting: bool = False    # the test map, shown while the map over training fits


def view(run: pipeline.Run, kind: str) -> View:
    """The map of this kind: its UMAP map when stored, else (the job starts here) the PCA map
    of all digits, or over training the test map, while UMAP fits. Over training,
    NoSnapshots for a run without readable snapshots, before any job starts."""
    if kind == "test":
        shown = derive.current_map(run)
        return View(kind, shown.result.map, cached.test_set(run).labels, shown.final,
                    shown.state, shown.result.knn_accuracy_2d)
    job = derive.derived_job("embed_over_training" if kind == "training" else "embed_all", run)
    if kind == "training" and not pipeline.is_valid(job.folder):
        cached.readable_snapshots(run)
    progress = background.follow(server.tasks(), job)
    if kind == "all":
        result = cached.all_map(run, "umap" if progress == "ready" else "pca")
        labels = mapping.all_labels(cached.dataset(run.config.dataset))
        return View(kind, result.map, labels, progress == "ready", progress,
                    result.knn_accuracy_2d)
    if progress != "ready":  # the test map meanwhile: a PCA per snapshot would take seconds here
        return view(run, "test")._replace(state=progress, waiting=True)
    frames = cached.training_maps(run)
    last = projection.Map(cached.UMAP, cached.codes(run)[1], frames.embeddings[-1], 0.0)
    return View(kind, last, cached.test_set(run).labels, True, progress,
                frames.knn_accuracy_2d[-1], frames)


def predictions(run: pipeline.Run, v: View) -> np.ndarray | None:
    """The stored head's class for each point of the view (None without a head): the test
    codes' once per run; the map of all digits' (test, then training) for that map."""
    if v.kind != "all":
        return cached.stored_predictions(run)
    head = cached.stored_head(run)
    return head.head.predict(v.fitted.codes) if head else None


def colour_values(run: pipeline.Run, v: View, colour: str) -> np.ndarray | None:
    """The value per point of a colouring (None for label, or when it cannot be had)."""
    if colour == "error":
        return cached.all_errors(run) if v.kind == "all" else cached.test_reconstructions(run)[1]
    if colour == "correct":
        predicted = predictions(run, v)
        return None if predicted is None else predicted == v.labels
    if colour == "trust" and v.kind == "test" and v.final:
        return cached.map_trust(run).kept
    if colour == "trust" and v.kind == "training":
        return v.frames.kept[-1]
    return None


def stored_trust(run: pipeline.Run, v: View) -> np.ndarray | None:
    """Each point's share of its 15 code neighbours kept on the map, when it was measured."""
    if v.kind == "training":
        return v.frames.kept[-1]
    if v.kind == "test" and v.final and pipeline.is_valid(mapping.trust_folder(run, cached.UMAP)):
        return cached.map_trust(run).kept
    return None


class PairImages(NamedTuple):
    originals: np.ndarray        # [N, 28, 28] in [0, 1]
    reconstructions: np.ndarray  # [N, 28, 28] in [0, 1]


def pair_images(run: pipeline.Run, kind: str, indices: list[int]) -> PairImages:
    """The digits at these indices of the map of this kind, with their reconstructions."""
    data = cached.dataset(run.config.dataset)
    train_codes, test_codes = cached.codes(run)
    if kind == "all":
        images, codes = mapping.all_images(data), torch.cat([test_codes, train_codes])
    else:
        images, codes = data.test_x, test_codes
    return PairImages(images[indices].numpy() / 255.0,
                      latents.decode(run.model, codes[indices]).numpy())


def _view_key(v: View) -> tuple:
    return v.kind, v.final


@st.cache_resource(max_entries=12, show_spinner="Drawing the map ...",
                   hash_funcs={**cached.BY_WEIGHTS, View: _view_key})
def figure(run: pipeline.Run, v: View, colour: str, shade: bool, head_ready: bool) -> go.Figure:
    """The map's figure for these choices, shared by every session (never changed after).
    `head_ready` keys it too: a classifier trained since changes what it can show."""
    names = cached.test_set(run).names
    values = colour_values(run, v, colour)
    colouring = Colouring(colour, values) if values is not None else Colouring()
    method = "UMAP" if v.final else "PCA"
    if v.kind == "training":
        frame_values = v.frames.kept if colouring.kind == "trust" else None
        return training_figure(v.frames.embeddings, v.frames.epochs, v.labels, names,
                               colouring, frame_values,
                               title=f"{method} map of the test codes over training")
    head = cached.stored_head(run) if shade and head_ready else None
    shading = trust.regions(v.fitted, head.head.probabilities) if head else None
    shown = kinds(cached.dataset(run.config.dataset))[v.kind]
    return map_figure(v.fitted.embedding, v.labels, names, colouring, regions=shading,
                      title=f"{method} map of the codes of {shown}")


@st.cache_resource(max_entries=4, show_spinner=False, hash_funcs=cached.BY_WEIGHTS)
def thumbnails(run: pipeline.Run, kind: str) -> gallery.Thumbnails:
    """Digit | reconstruction thumbnails for the points of the map of this kind."""
    data = cached.dataset(run.config.dataset)
    train_codes, test_codes = cached.codes(run)
    if kind == "all":
        return gallery.Thumbnails(run.model, mapping.all_images(data),
                                  torch.cat([test_codes, train_codes]))
    return gallery.Thumbnails(run.model, data.test_x, test_codes)


def decode_place(run: pipeline.Run, v: View, x: float, y: float) -> np.ndarray:
    """The image [28, 28] decoded from the blend of codes nearest (x, y) on the map."""
    code = projection.codes_at(np.array([[x, y]], dtype=np.float32), v.fitted)
    return latents.decode(run.model, code)[0].numpy()
