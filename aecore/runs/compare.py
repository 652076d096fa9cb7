"""Many runs side by side: their table rows, curves over the latent size, and two runs' maps
and neighbourhoods compared digit by digit.

Rows are read from the cache without loading weights or computing anything: a value that was
never computed is None (the sweep computes all of them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from aecore.analysis.projection import exact_knn
from aecore.core import metrics
from aecore.core.config import HeadConfig, ProjectionConfig
from aecore.runs import dataquality, pipeline, store

HEADS = {"linear": HeadConfig(head="linear"), "mlp": HeadConfig(head="mlp")}
MAP = ProjectionConfig(method="umap")
# Draw's head: an MLP on the codes of the training digits and of jittered copies
DRAW_HEAD = HeadConfig(head="mlp", jitter=True)
NEIGHBOURS = 15


@dataclass(frozen=True)
class Row:
    """One stored run: what `aecore report` prints and the Compare page's table shows."""
    run_id: str
    model: str
    latent_dim: int
    epochs: int
    seed: int
    test_loss: float | None
    linear_accuracy: float | None
    mlp_accuracy: float | None
    knn_accuracy_2d: float | None
    seconds_per_epoch: float | None
    complete: bool
    # Settings off the defaults ("batch 64, β 4"): such runs are their own curve, never
    # averaged with the default runs as if they were seeds.
    variant: str = field(default="", compare=False)
    # HDBSCAN's clusters of the map against the labels (aecore.runs.dataquality), once found
    cluster_ari: float | None = None
    cluster_ami: float | None = None
    cluster_accuracy: float | None = None

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in FIELDS}


FIELDS = ("run_id", "model", "latent_dim", "epochs", "seed", "variant", "test_loss",
          "linear_accuracy", "mlp_accuracy", "knn_accuracy_2d", "cluster_ari", "cluster_ami",
          "cluster_accuracy", "seconds_per_epoch", "complete")
NUMBERS = ("test_loss", "linear_accuracy", "mlp_accuracy", "knn_accuracy_2d", "cluster_ari",
           "cluster_ami", "cluster_accuracy", "seconds_per_epoch")


@dataclass(frozen=True)
class Baselines:
    """The same heads on raw pixels, and on PCA with each run's k (what the codes must beat)."""
    pixels: dict[str, float]              # head -> accuracy
    pca: dict[str, dict[int, float]]      # head -> k -> accuracy


@dataclass(frozen=True)
class Report:
    rows: list[Row]
    baselines: Baselines


def _stored_json(folder, name: str) -> dict | None:
    files = store.read_listed(folder, (name,))
    if files is None:
        return None
    try:
        value = store.parse_json(files, name, folder)
    except (ValueError, store.CacheCorrupt):
        return None
    return value if isinstance(value, dict) else None


def report(dataset: str | None = None) -> Report:
    """Every stored run (of one dataset, or all), newest first, with the baselines found in
    their heads' reports."""
    rows, pixels, pca = [], {}, {name: {} for name in HEADS}
    for run_id in store.list_run_ids():
        s = pipeline.summary(run_id)
        if s is None or (dataset is not None and s.config.dataset != dataset):
            continue
        accuracy = {}
        for name, cfg in HEADS.items():
            head = _stored_json(pipeline.head_folder(s, cfg), "report.json") or {}
            accuracy[name] = metrics.number(head.get("test_accuracy"))
            base = head.get("baselines")
            base = base if isinstance(base, dict) else {}
            if (value := metrics.number(base.get("pixels"))) is not None:
                pixels[name] = value
            if (value := metrics.number(base.get("pca"))) is not None:
                pca[name][s.config.latent_dim] = value
        meta = _stored_json(pipeline.map_folder(s, MAP), "meta.json") or {}
        found = _stored_json(dataquality.clusters_folder(s, MAP), "summary.json") or {}
        c, m = s.config, s.metrics
        rows.append(Row(run_id, c.model, c.latent_dim, c.epochs, c.seed,
                        metrics.number(m.get("test_loss")), accuracy["linear"], accuracy["mlp"],
                        metrics.number(meta.get("knn_accuracy_2d")),
                        metrics.number(m.get("seconds_per_epoch")), s.complete,
                        cluster_ari=metrics.number(found.get("ari")),
                        cluster_ami=metrics.number(found.get("ami")),
                        cluster_accuracy=metrics.number(found.get("clustering_accuracy")),
                        variant=c.variant))
    return Report(rows, Baselines(pixels, pca))


@dataclass(frozen=True)
class DrawingScore:
    """A stored drawing head: the share of canvas-style digits and of test digits it reads."""
    run_id: str
    label: str                      # "conv · k=32 · 10 ep"
    canvas_accuracy: float
    test_accuracy: float | None


def _share(value) -> float | None:
    """An accuracy as stored, if it is one (a number from 0 to 1)."""
    share = metrics.number(value)
    return share if share is not None and 0 <= share <= 1 else None


def drawing_scores(dataset: str) -> list[DrawingScore]:
    """Every stored drawing head of the dataset's runs, best on canvas-style digits first:
    what Draw's advice quotes, measured on this cache's runs rather than on one day's."""
    scores = []
    for run_id in store.list_run_ids():
        s = pipeline.summary(run_id)
        if s is None or s.config.dataset != dataset:
            continue
        head = _stored_json(pipeline.head_folder(s, DRAW_HEAD), "report.json") or {}
        if (canvas := _share(head.get("canvas_accuracy"))) is None:
            continue
        c = s.config
        label = f"{c.model} · k={c.latent_dim} · {c.epochs} ep" + (
            f" · {c.variant}" if c.variant else "")
        scores.append(DrawingScore(run_id, label, canvas, _share(head.get("test_accuracy"))))
    return sorted(scores, key=lambda d: -d.canvas_accuracy)


@dataclass(frozen=True)
class CurvePoint:
    """One model's runs at one latent size: mean and range over seeds."""
    group: str          # "dense · 10 ep": runs of different lengths are different curves
    latent_dim: int
    mean: float
    low: float
    high: float
    run_ids: list[str]


def curve(rows: list[Row], metric: str) -> list[CurvePoint]:
    """Points of `metric` over k, per (model, epochs), from complete runs that have it; sorted
    by group, then k."""
    groups: dict[tuple[str, int], list[Row]] = {}
    for r in rows:
        if r.complete and getattr(r, metric) is not None:
            name = f"{r.model} · {r.epochs} ep" + (f" · {r.variant}" if r.variant else "")
            groups.setdefault((name, r.latent_dim), []).append(r)
    points = []
    for (group, k), members in sorted(groups.items()):
        values = np.array([getattr(r, metric) for r in members], dtype=float)
        points.append(CurvePoint(group, k, float(values.mean()), float(values.min()),
                                 float(values.max()), [r.run_id for r in members]))
    return points


METRICS = {"test_loss": "Test BCE (lower is better)",
           "linear_accuracy": "Linear head: test accuracy",
           "mlp_accuracy": "MLP head: test accuracy",
           "knn_accuracy_2d": "Map: 2-D 5-NN accuracy",
           "cluster_ari": "Map's clusters (HDBSCAN): adjusted Rand index",
           "cluster_accuracy": "Map's clusters: accuracy (each read as its majority label)"}


@dataclass(frozen=True)
class CurveSet:
    """One figure of the Compare page: a metric over k, per model, with its baselines."""
    metric: str
    title: str
    points: list[CurvePoint]
    baselines: dict[str, list[tuple[int, float]]]  # name -> (k, accuracy), sorted by k


def curve_sets(rep: Report) -> list[CurveSet]:
    sets = []
    for metric, title in METRICS.items():
        points = curve(rep.rows, metric)
        baselines = {}
        head = metric.removesuffix("_accuracy")
        if head in HEADS and points:
            ks = sorted({p.latent_dim for p in points})
            if head in rep.baselines.pixels:
                baselines["raw pixels"] = [(k, rep.baselines.pixels[head]) for k in ks]
            pca = rep.baselines.pca.get(head, {})
            if pca:
                baselines["PCA, same k"] = sorted(pca.items())
        sets.append(CurveSet(metric, title, points, baselines))
    return sets


def frame(rows: list[Row]):
    """The rows as a pandas DataFrame, columns in FIELDS order (the table and its CSV)."""
    import pandas as pd

    table = pd.DataFrame([r.to_dict() for r in rows], columns=list(FIELDS))
    return table.astype({name: float for name in NUMBERS})  # None -> NaN, also in empty columns


def align(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """`other` [N, 2] rotated (or mirrored), scaled and shifted to lie closest to `reference`
    [N, 2] in least squares: orthogonal Procrustes on the same digits. Two UMAP fits of similar
    codes differ by such a motion, which would otherwise hide how alike they are."""
    ref = reference.astype(np.float64)
    oth = other.astype(np.float64)
    if not (np.isfinite(ref).all() and np.isfinite(oth).all()):
        return other  # nothing sensible to fit; shown as it is
    ref_mean, oth_mean = ref.mean(0), oth.mean(0)
    a, b = ref - ref_mean, oth - oth_mean
    u, s, vt = np.linalg.svd(b.T @ a)
    rotation = u @ vt
    norm = (b ** 2).sum()
    scale = s.sum() / norm if norm > 0 else 1.0
    return (scale * b @ rotation + ref_mean).astype(np.float32)


@dataclass(frozen=True)
class NeighbourChange:
    """How much each digit's neighbourhood in code space differs between two runs."""
    overlap: np.ndarray    # float [N]: shared share of the 15 nearest neighbours, 0 to 1
    changed_most: np.ndarray  # int [N]: digit indices, lowest overlap first

    @property
    def mean(self) -> float:
        return float(self.overlap.mean()) if len(self.overlap) else 0.0


def neighbour_change(codes_a: torch.Tensor, codes_b: torch.Tensor,
                     k: int = NEIGHBOURS) -> NeighbourChange:
    """Overlap of each digit's k nearest neighbours (itself excluded) in two runs' codes of the
    same digits, [N, ka] and [N, kb]; the codes may have different sizes."""
    if len(codes_a) != len(codes_b):
        raise ValueError(f"the runs encode different digits ({len(codes_a)} and {len(codes_b)})")
    k = min(k, len(codes_a) - 1)
    if k < 1:
        return NeighbourChange(np.ones(len(codes_a)), np.arange(len(codes_a)))
    a, _ = exact_knn(codes_a.float(), codes_a.float(), k, skip_self=True)
    b, _ = exact_knn(codes_b.float(), codes_b.float(), k, skip_self=True)
    shared = (a[:, :, None] == b[:, None, :]).any(2).sum(1).numpy()  # [N]
    overlap = shared / k
    return NeighbourChange(overlap, np.argsort(overlap, kind="stable"))
