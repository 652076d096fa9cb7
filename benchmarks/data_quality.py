"""Suspect labels and clusters, measured where the truth is known.

`bench_suspects` (in `aecore-bench`): the time to rank the 60,000 training digits of the default
run (`data_quality.suspects_train_s`), and on 1 % of its training labels flipped, the share of
them found among the worst ranked, beside the head's confidence alone.

`python -m benchmarks.data_quality` (the README's table, a few minutes more): the same at 1 % and
3 % for dense, deep, conv and vae-conv at k=32, and HDBSCAN's clusters of each run's test map
against UMAP + HDBSCAN on raw pixels.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from aecore.analysis import projection, quality
from aecore.core.config import ProjectionConfig, TrainConfig
from aecore.data import datasets
from aecore.runs import dataquality, pipeline
from benchmarks.compare import using_cache

MODELS = ("dense", "deep", "conv", "vae-conv")
SHARES = (0.01, 0.03)


def flip(labels: torch.Tensor, share: float, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """A seeded share of the labels each moved to another class, chosen uniformly."""
    rng = np.random.default_rng(seed)
    flipped = rng.choice(len(labels), round(share * len(labels)), replace=False)
    noisy = labels.clone()
    shift = torch.from_numpy(rng.integers(1, 10, len(flipped)))
    noisy[flipped] = (noisy[flipped] + shift) % 10
    return noisy, flipped


def found_flips(run: pipeline.Run, data: datasets.Dataset, share: float) -> dict:
    """Our ranking (cleanlab on the cross-validated head blended with the neighbours' vote)
    and the head's confidence alone, on the training labels with `share` flipped."""
    train_codes, _ = pipeline.codes(run)
    noisy, flipped = flip(data.train_y, share)
    head = quality.cross_validated(train_codes, noisy, 10)
    vote = quality.neighbour_vote(train_codes, train_codes, noisy, 10, skip_self=True)
    ours = quality.retrieval(quality.rank(noisy.numpy(), quality.blend(head, vote)).order,
                             flipped)
    base = quality.retrieval(quality.confidence_baseline(noisy.numpy(), head).order, flipped)
    return {"flipped": len(flipped), "precision_at_n": ours.precision_at_n,
            "recall_at_2n": ours.recall_at_2n,
            "baseline_precision_at_n": base.precision_at_n,
            "baseline_recall_at_2n": base.recall_at_2n}


def bench_suspects(data: datasets.Dataset, smoke: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp, using_cache(Path(tmp) / "cache"):
        if smoke:  # the bars, served under mnist's name for the pipeline
            datasets_load = datasets.load
            datasets.load = lambda name="mnist", download=True: data
        try:
            run = list(pipeline.train(TrainConfig(epochs=1 if smoke else 10),
                                      device="cpu"))[-1].run
            start = time.perf_counter()
            dataquality.suspects(run, "train")
            seconds = time.perf_counter() - start
            flips = found_flips(run, data, 0.01)
        finally:
            if smoke:
                datasets.load = datasets_load
    return {"images": len(data.train_y), "suspects_train_s": seconds,
            "precision_at_n_1pct": flips["precision_at_n"],
            "baseline_precision_at_n_1pct": flips["baseline_precision_at_n"]}


def pixel_clusters(data: datasets.Dataset) -> dict:
    """The baseline: UMAP of the raw test pixels, then the same HDBSCAN."""
    pixels = data.test_x.reshape(len(data.test_x), -1).float() / 255.0
    fitted = projection.fit(pixels, ProjectionConfig(method="umap"))
    return quality.clusters(fitted.embedding, data.test_y.numpy()).summary()


def measure() -> dict:
    data = datasets.load("mnist")
    rows = {}
    for model in MODELS:
        run = list(pipeline.train(TrainConfig(model=model, latent_dim=32), device="cpu"))[-1].run
        row = {"test_loss": run.metrics["test_loss"]}
        for share in SHARES:
            row[f"{share:.0%}"] = found_flips(run, data, share)
        row["clusters"] = dataquality.clusters(run).clusters.summary()
        rows[model] = row
        print(model, json.dumps(row), file=sys.stderr, flush=True)
    rows["pixels"] = {"clusters": pixel_clusters(data)}
    return rows


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
