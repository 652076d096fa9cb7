"""Your own images, measured: a folder of rendered shapes (benchmarks/shapes.py: six classes,
about half of them 64x64 colour, a fifth JPEG) imported as a dataset, trained on, classified and
mapped, with one epoch beside one of MNIST cut to the same image count."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from aecore.core.config import HeadConfig, TrainConfig
from aecore.data import datasets
from aecore.runs import imported, pipeline
from aecore.training import loop
from benchmarks.compare import using_cache
from benchmarks.shapes import make_folder


def _epoch_seconds(cfg: TrainConfig, data: datasets.Dataset) -> float:
    """The median of the epochs' batch time (test evaluation apart)."""
    times = [e.train_seconds for e in loop.run(cfg, data, device="cpu")
             if isinstance(e, loop.EpochEvent)]
    return statistics.median(times)


def same_count(data: datasets.Dataset, train: int, test: int) -> datasets.Dataset:
    return replace(data, train_x=data.train_x[:train], train_y=data.train_y[:train],
                   test_x=data.test_x[:test], test_y=data.test_y[:test])


def bench_own_images(mnist: datasets.Dataset, per_class: int = 350, epochs: int = 10) -> dict:
    """Import speed, one epoch over MNIST's at the same count (dense k=32, grey 28x28 both),
    the MLP head against its pixel and PCA baselines, and the map's 2-D 5-NN accuracy."""
    with tempfile.TemporaryDirectory() as tmp, using_cache(Path(tmp) / "cache"):
        folder = make_folder(Path(tmp) / "shapes", per_class=per_class)
        start = time.perf_counter()
        manifest = imported.add(folder, "shapes")
        import_s = time.perf_counter() - start
        cfg = TrainConfig(dataset="shapes", epochs=epochs)
        run = list(pipeline.train(cfg, device="cpu"))[-1].run
        shapes = datasets.load("shapes")
        ours = _epoch_seconds(replace(cfg, epochs=3), shapes)
        theirs = _epoch_seconds(replace(cfg, dataset="mnist", epochs=3),
                                same_count(mnist, len(shapes.train_x), len(shapes.test_x)))
        # The MLP head: a linear one reads these shapes (random colours, light on dark and dark
        # on light) at chance, from the codes as from the pixels.
        head = pipeline.classify(run, HeadConfig(head="mlp")).report
        return {"images": manifest.images, "import_s": import_s,
                "import_images_per_s": manifest.images / import_s,
                "test_loss": run.metrics["test_loss"], "seconds_per_epoch": ours,
                "mnist_seconds_per_epoch": theirs, "epoch_over_mnist": ours / theirs,
                "head_accuracy": head["test_accuracy"],
                "pixels_accuracy": head["baselines"]["pixels"],
                "pca_accuracy": head["baselines"]["pca"],
                "knn_accuracy_2d": pipeline.embed(run).knn_accuracy_2d}
