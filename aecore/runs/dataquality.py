"""A run's reading of its dataset's doubtful parts, cached under its weights like every derived
result: suspect labels per split, the odd images and near-duplicate pairs, and the clusters
HDBSCAN finds on the test map (aecore.analysis.quality holds the maths)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aecore.analysis import quality
from aecore.core import metrics
from aecore.core.config import ProjectionConfig
from aecore.core.errors import CacheCorrupt, InvalidConfig
from aecore.data import datasets
from aecore.runs import pipeline, store

SPLITS = ("test", "train")
VERSION = 1  # bump when a ranking changes, so cached ones are computed again


@dataclass(frozen=True)
class SuspectResult:
    split: str
    method: str
    scores: np.ndarray     # float32 [N] by index: label quality, lowest most suspect
    suggested: np.ndarray  # int64 [N]
    order: np.ndarray      # int64 [N]: worst first
    labels: np.ndarray     # int64 [N]: the given labels
    seconds: float

    def rows(self, top: int) -> list[dict]:
        return [{"index": int(i), "label": int(self.labels[i]),
                 "suggested": int(self.suggested[i]), "score": round(float(self.scores[i]), 6)}
                for i in self.order[:top]]


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise InvalidConfig(f"split must be test or train, not {split!r}")


def _labelled(run: pipeline.Run) -> datasets.Dataset:
    data = datasets.load(run.config.dataset)
    if not data.labelled:
        raise InvalidConfig(f"{run.config.dataset} has no labels, so no label can be suspect")
    return data


def suspects(run: pipeline.Run, split: str = "test") -> SuspectResult:
    """Every image of the split ranked by cleanlab's label quality on probabilities from
    models that never saw its label: for the test split, the run's head (trained on the
    training split) and the vote of its 10 nearest training codes; for the training split, a
    head cross-validated over 5 folds and the vote of its 10 nearest other training codes."""
    check_split(split)
    data = _labelled(run)
    n_classes = len(data.label_names)

    def compute() -> store.Files:
        start = time.perf_counter()
        train_codes, test_codes = pipeline.codes(run)
        if split == "test":
            head = pipeline.classify(run).head.probabilities(test_codes).numpy()
            vote = quality.neighbour_vote(test_codes, train_codes, data.train_y, n_classes,
                                          skip_self=False)
            labels = data.test_y.numpy()
        else:
            head = quality.cross_validated(train_codes, data.train_y, n_classes)
            vote = quality.neighbour_vote(train_codes, train_codes, data.train_y, n_classes,
                                          skip_self=True)
            labels = data.train_y.numpy()
        ranked = quality.rank(labels, quality.blend(head, vote))
        return {"suspects.safetensors": store.tensor_bytes({
                    "scores": torch.from_numpy(ranked.scores),
                    "suggested": torch.from_numpy(ranked.suggested.astype(np.int64)),
                    "order": torch.from_numpy(ranked.order.astype(np.int64))}),
                "meta.json": store.json_bytes({"split": split, "method": ranked.method,
                                               "seconds": time.perf_counter() - start})}

    folder = run.derived_dir / f"suspects-{split}-v{VERSION}"
    files, _ = store.get_or_compute(folder, compute, _check_suspects(split_size(data, split)))
    meta = store.parse_json(files, "meta.json", folder)
    t = store.parse_tensors(files, "suspects.safetensors", folder)
    labels = (data.test_y if split == "test" else data.train_y).numpy()
    return SuspectResult(split, meta["method"], t["scores"].numpy(), t["suggested"].numpy(),
                         t["order"].numpy(), labels, meta["seconds"])


def suspects_ready(run: pipeline.Run, split: str) -> bool:
    """Whether the split's ranking is stored and reads right (a damaged one is moved aside):
    a page shows it, else offers the button that computes it."""
    folder = run.derived_dir / f"suspects-{split}-v{VERSION}"
    n = split_size(datasets.load(run.config.dataset), split)
    return store.read_artefact(folder, check=_check_suspects(n)) is not None


def split_size(data: datasets.Dataset, split: str) -> int:
    return len(data.test_y if split == "test" else data.train_y)


def _check_suspects(n: int) -> store.Check:
    """A cached ranking that does not read as one of n images (a hand-edited file) is damaged:
    moved aside and computed again, never shown."""
    def check(files: store.Files, folder: Path) -> None:
        t = store.parse_tensors(files, "suspects.safetensors", folder)
        meta = store.parse_json(files, "meta.json", folder)
        order = t.get("order", torch.empty(0))
        sizes = {len(t.get(k, ())) for k in ("scores", "suggested", "order")}
        if sizes != {n} or not isinstance(meta, dict) or \
                meta.get("method") not in quality.METHODS or \
                metrics.number(meta.get("seconds")) is None or \
                sorted(order.tolist()) != list(range(n)):
            raise CacheCorrupt(f"{folder}: not a ranking of {n} images")
    return check


def odd(run: pipeline.Run, split: str = "test", n: int = 50) -> quality.Odd:
    """The split's odd images and near-duplicate pairs, by its codes."""
    check_split(split)

    def compute() -> store.Files:
        train_codes, test_codes = pipeline.codes(run)
        data = datasets.load(run.config.dataset)
        found = quality.odd_and_pairs(test_codes if split == "test" else train_codes,
                                      data.test_x if split == "test" else data.train_x, n)
        return {"odd.safetensors": store.tensor_bytes({
            "odd": torch.from_numpy(found.odd), "odd_distance": torch.from_numpy(
                found.odd_distance),
            "pairs": torch.from_numpy(found.pairs.reshape(-1, 2).astype(np.int64)),
            "pair_code_distance": torch.from_numpy(found.pair_code_distance),
            "pair_pixel_distance": torch.from_numpy(found.pair_pixel_distance)})}

    folder = run.derived_dir / f"odd-{split}-{n}-v{VERSION}"
    size = split_size(datasets.load(run.config.dataset), split)
    files, _ = store.get_or_compute(folder, compute, _check_odd(size))
    t = store.parse_tensors(files, "odd.safetensors", folder)
    return quality.Odd(*(t[k].numpy() for k in ("odd", "odd_distance", "pairs",
                                                "pair_code_distance", "pair_pixel_distance")))


def _check_odd(n: int) -> store.Check:
    def check(files: store.Files, folder: Path) -> None:
        t = store.parse_tensors(files, "odd.safetensors", folder)
        keys = ("odd", "odd_distance", "pairs", "pair_code_distance", "pair_pixel_distance")
        fine = all(k in t for k in keys) and len(t["odd"]) == len(t["odd_distance"]) and \
            t["pairs"].dim() == 2 and t["pairs"].shape[1] == 2 and \
            len(t["pairs"]) == len(t["pair_code_distance"]) == len(t["pair_pixel_distance"])
        indices = torch.cat([t["odd"].flatten(), t["pairs"].flatten()]) if fine else None
        if not fine or (len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= n)):
            raise CacheCorrupt(f"{folder}: not the odd images of {n}")
    return check


@dataclass(frozen=True)
class ClusterResult:
    clusters: quality.Clusters
    embedding: np.ndarray   # float32 [N, 2]: the test map they were found on


def clusters_folder(run: pipeline.Run | pipeline.RunSummary, cfg: ProjectionConfig) -> Path:
    return run.derived_dir / f"clusters-{cfg.key()}-v{VERSION}"


def clusters(run: pipeline.Run, cfg: ProjectionConfig | None = None) -> ClusterResult:
    """HDBSCAN's clusters of the run's test map, scored against the labels when there are."""
    cfg = cfg or ProjectionConfig()
    fitted = pipeline.embed(run, cfg).map

    def compute() -> store.Files:
        data = datasets.load(run.config.dataset)
        found = quality.clusters(fitted.embedding, data.test_y.numpy() if data.labelled
                                 else None)
        return {"clusters.safetensors": store.tensor_bytes({
                    "assignment": torch.from_numpy(found.assignment.astype(np.int64))}),
                "summary.json": store.json_bytes(found.summary())}

    folder = clusters_folder(run, cfg)
    files, _ = store.get_or_compute(folder, compute, _check_clusters(len(fitted.embedding)))
    s = store.parse_json(files, "summary.json", folder)
    assignment = store.parse_tensors(files, "clusters.safetensors", folder)["assignment"]
    found = quality.Clusters(assignment.numpy(), s["n_clusters"], s["noise_share"],
                             *(float("nan") if s[k] is None else s[k]
                               for k in ("ari", "ami", "clustering_accuracy")))
    return ClusterResult(found, fitted.embedding)


def _check_clusters(n: int) -> store.Check:
    def check(files: store.Files, folder: Path) -> None:
        s = store.parse_json(files, "summary.json", folder)
        assignment = store.parse_tensors(files, "clusters.safetensors", folder).get("assignment")
        fine = isinstance(s, dict) and assignment is not None and len(assignment) == n and \
            all(metrics.number(s.get(k)) is not None for k in ("n_clusters", "noise_share")) \
            and all(s.get(k) is None or metrics.number(s.get(k)) is not None
                    for k in ("ari", "ami", "clustering_accuracy"))
        if not fine:
            raise CacheCorrupt(f"{folder}: not the clusters of {n} images")
    return check
