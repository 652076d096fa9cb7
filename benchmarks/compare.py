"""`aecore-bench`'s figures for sweeps and the Compare page (see suite.py for the rest)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from aecore.core.config import MODELS, TrainConfig
from aecore.figures import plots
from aecore.models import from_config
from aecore.runs import compare, pipeline, store
from aecore.training.loop import DoneEvent, History

SWEEP_SIZES = (8, 16, 32)


def aecore_json(env: dict, *args: str) -> dict:
    """`aecore ARGS --json` in a fresh process, its JSON result."""
    proc = subprocess.run([sys.executable, "-m", "aecore", *args, "--json"], capture_output=True,
                          text=True, timeout=900, env={**os.environ, **env}, check=True)
    return json.loads(proc.stdout)


@contextlib.contextmanager
def using_cache(folder: Path) -> Iterator[None]:
    old = os.environ.get("AECORE_CACHE_DIR")
    os.environ["AECORE_CACHE_DIR"] = str(folder)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("AECORE_CACHE_DIR", None)
        else:
            os.environ["AECORE_CACHE_DIR"] = old


def bench_sweep_overhead(sizes: tuple[int, ...] = SWEEP_SIZES) -> dict:
    """Wall time of `aecore sweep` over 1-epoch dense configs against the same work as single
    commands (`aecore train`, then `classify` linear and mlp and `embed` for each run), each
    side on its own cache. The heads' baselines are computed beforehand, in this cache (so a
    later bench, sweep or page finds them), and copied to both sides, since a sweep and the
    commands share them alike."""
    for k in sizes:
        for cfg in compare.HEADS.values():
            pipeline.baselines("mnist", k, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        shutil.copytree(store.cache_dir() / "baselines" / "mnist", base / "baselines" / "mnist",
                        ignore=shutil.ignore_patterns(f"{store.TMP_PREFIX}*"))
        sides = {}
        for side in ("sweep", "commands"):
            shutil.copytree(base, Path(tmp) / side)
            sides[side] = {"AECORE_CACHE_DIR": str(Path(tmp) / side)}
        start = time.perf_counter()
        aecore_json(sides["sweep"], "sweep", "--latent-dims", ",".join(map(str, sizes)),
                    "--epochs", "1")
        sweep_s = time.perf_counter() - start
        start = time.perf_counter()
        for k in sizes:
            run_id = aecore_json(sides["commands"], "train", "--latent-dim", str(k),
                                 "--epochs", "1")["run_id"]
            for head in compare.HEADS:
                aecore_json(sides["commands"], "classify", run_id, "--head", head)
            aecore_json(sides["commands"], "embed", run_id)
        commands_s = time.perf_counter() - start
    return {"configs": len(sizes), "sweep_s": sweep_s, "commands_s": commands_s,
            "overhead": sweep_s / commands_s}


def _store_fake_run(i: int, gen: np.random.Generator) -> None:
    """A stored run with its heads' reports and map meta, as a sweep leaves them (weights
    untrained, numbers drawn at random): what the Compare page reads."""
    cfg = TrainConfig(model=MODELS[i % len(MODELS)], latent_dim=2 ** (1 + i % 7),
                      seed=i // 21, epochs=10)
    epochs = [{"epoch": e + 1, "train_loss": 0.1, "test_loss": 0.1, "seconds": 1.0}
              for e in range(cfg.epochs)]
    done = DoneEvent(from_config(cfg), History([0.1] * 100, epochs), False, 10)
    store.write_artefact(store.run_dir(cfg.key()), pipeline.run_files(cfg, done, "cpu"))
    s = pipeline.summary(cfg.key())
    for cfg_head in compare.HEADS.values():
        report = {"test_accuracy": float(gen.uniform(0.8, 1)),
                  "baselines": {"pixels": 0.92, "pca": float(gen.uniform(0.7, 0.9))}}
        store.write_artefact(pipeline.head_folder(s, cfg_head),
                             {"report.json": store.json_bytes(report)})
    store.write_artefact(pipeline.map_folder(s, compare.MAP), {"meta.json": store.json_bytes(
        {"knn_accuracy_2d": float(gen.uniform(0.5, 1))})})


def bench_compare_render(n_runs: int = 50, repeats: int = 5) -> dict:
    """Milliseconds to build the Compare page's table and curve figures (serialised, as the
    page sends them) from n_runs stored runs; the median of `repeats`."""
    gen = np.random.default_rng(0)
    times = []
    with tempfile.TemporaryDirectory() as tmp, using_cache(Path(tmp)):
        for i in range(n_runs):
            _store_fake_run(i, gen)
        for _ in range(repeats):
            start = time.perf_counter()
            rep = compare.report("mnist")
            compare.frame(rep.rows).to_json()
            for curves in compare.curve_sets(rep):
                plots.curve_figure(curves).to_json()
            times.append((time.perf_counter() - start) * 1000)
        assert len(rep.rows) == n_runs, "the stored runs were not all read"
    return {"runs": n_runs, "render_ms": statistics.median(times)}
