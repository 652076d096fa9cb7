"""The maps beyond a run's test map, cached like it under the run's weights: the map over
training (one frame per kept snapshot of the test codes), the map of all 70,000 digits, and
how far a map keeps the codes' neighbourhoods (trust).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from aecore.analysis import projection, trust
from aecore.core.config import ProjectionConfig
from aecore.core.errors import NoSnapshots
from aecore.data import datasets
from aecore.runs import pipeline, store

ALL = "all"  # the map kind of the 60,000 training digits with the 10,000 test digits


class Snapshots(NamedTuple):
    epochs: list[float]   # 0.05 is 5 % into the first epoch
    codes: torch.Tensor   # float16 [S, 10000, k]


def _none_kept(run: pipeline.Run) -> NoSnapshots:
    return NoSnapshots(f"run {run.run_id} has no readable test codes kept while it trained "
                       "(trained before they were kept, their file is damaged, or the run was "
                       "trained again since it was opened). The app reuses a stored run as it "
                       "is: to see this one over training, train its config again from the "
                       "command line with `aecore train ... --force`")


def has_snapshots(run: pipeline.Run) -> bool:
    """Whether the run's folder lists snapshots (cheap: nothing is read)."""
    return store.listed_digest(store.run_dir(run.run_id), pipeline.SNAPSHOTS) is not None


def snapshots(run: pipeline.Run) -> Snapshots:
    """The test codes kept while the run trained; NoSnapshots if it kept none."""
    folder = store.run_dir(run.run_id)
    files = store.read_listed(folder, (pipeline.SNAPSHOTS,))
    if files is None or pipeline.weights_id(run.run_id) != run.weights_id:
        raise _none_kept(run)
    tensors = store.parse_tensors(files, pipeline.SNAPSHOTS, folder)
    return Snapshots([round(float(e), 3) for e in tensors["epochs"]], tensors["codes"])


@dataclass(frozen=True)
class TrainingMaps:
    epochs: list[float]
    embeddings: np.ndarray        # float32 [S, 10000, 2], each frame started from the one before
    kept: np.ndarray              # float32 [S, 10000]: per frame, trust.neighbours_kept
    knn_accuracy_2d: list[float]
    seconds: float                # fitting the frames, accuracies included
    cached: bool


def training_folder(run: pipeline.Run | pipeline.RunSummary, cfg: ProjectionConfig) -> Path:
    return run.derived_dir / f"training-map-{cfg.key()}"


def embed_over_training(run: pipeline.Run, cfg: ProjectionConfig | None = None) -> TrainingMaps:
    """The map of the test codes at every kept snapshot, aligned frame to frame."""
    cfg = cfg or ProjectionConfig()

    def compute() -> store.Files:
        kept = snapshots(run)
        labels = datasets.load(run.config.dataset).test_y.numpy()
        start = time.perf_counter()
        frames = projection.fit_series(list(kept.codes), cfg)
        accuracy = [pipeline.label_accuracy(f.embedding, labels) for f in frames]
        trusts = [trust.neighbours_kept(f.neighbours, f.embedding) for f in frames]
        meta = {"config": cfg.to_dict(), "epochs": kept.epochs, "knn_accuracy_2d": accuracy,
                "seconds": time.perf_counter() - start}
        return {"embeddings.safetensors": store.tensor_bytes({
                    "embeddings": torch.from_numpy(np.stack([f.embedding for f in frames])),
                    "kept": torch.from_numpy(np.stack(trusts)).half()}),
                "meta.json": store.json_bytes(meta)}

    folder = training_folder(run, cfg)
    files, cached = store.get_or_compute(folder, compute)
    meta = store.parse_json(files, "meta.json", folder)
    tensors = store.parse_tensors(files, "embeddings.safetensors", folder)
    return TrainingMaps(meta["epochs"], tensors["embeddings"].numpy(),
                        tensors["kept"].float().numpy(), meta["knn_accuracy_2d"],
                        meta["seconds"], cached)


def all_folder(run: pipeline.Run | pipeline.RunSummary, cfg: ProjectionConfig) -> Path:
    return run.derived_dir / f"map-all-{cfg.key()}"


def all_labels(dataset: datasets.Dataset) -> np.ndarray:
    """int64 [70000]: the test digits' labels, then the training digits'."""
    return torch.cat([dataset.test_y, dataset.train_y]).numpy()


def all_images(dataset: datasets.Dataset) -> torch.Tensor:
    """uint8 [70000, 28, 28] in the order of the map of all digits: test first."""
    return torch.cat([dataset.test_x, dataset.train_x])


def embed_all(run: pipeline.Run, cfg: ProjectionConfig | None = None) -> pipeline.MapResult:
    """The map of all 70,000 digits (index 0 to 9,999 the test digits, then the training
    digits): exact kNN in chunks and the same UMAP settings as the test map."""
    cfg = cfg or ProjectionConfig()
    train_codes, test_codes = pipeline.codes(run)
    return pipeline.cached_map(all_folder(run, cfg), torch.cat([test_codes, train_codes]), cfg,
                          lambda: all_labels(datasets.load(run.config.dataset)))


@dataclass(frozen=True)
class Trust:
    kept: np.ndarray              # float32 [N]: per digit, its share of code neighbours kept
    summary: trust.TrustSummary


def trust_folder(run: pipeline.Run | pipeline.RunSummary, cfg: ProjectionConfig) -> Path:
    return run.derived_dir / f"trust-{cfg.key()}"


def map_trust(run: pipeline.Run, cfg: ProjectionConfig | None = None) -> Trust:
    """How far the run's test map keeps its codes' neighbourhoods, cached with the map."""
    cfg = cfg or ProjectionConfig()

    def compute() -> store.Files:
        fitted = pipeline.embed(run, cfg).map
        kept = trust.neighbours_kept(trust.code_neighbours(fitted.codes), fitted.embedding)
        summary = trust.summarise(fitted.codes, fitted.embedding, kept)
        return {"kept.safetensors": store.tensor_bytes({"kept": torch.from_numpy(kept)}),
                "summary.json": store.json_bytes(summary.to_dict())}

    folder = trust_folder(run, cfg)
    files, _ = store.get_or_compute(folder, compute)
    summary = trust.TrustSummary(**store.parse_json(files, "summary.json", folder))
    return Trust(store.parse_tensors(files, "kept.safetensors", folder)["kept"].numpy(), summary)
