"""The cached pipeline the app and the CLI share: train or load a run, its codes, maps, heads.

Every result is a pure function of its config and inputs, stored under its key; a key that
exists on disk is never computed twice (DESIGN.md, "How data flows").
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from aecore.analysis import projection
from aecore.analysis.classify import Head, fit_and_score, pca_features
from aecore.core import metrics
from aecore.core.config import HeadConfig, ProjectionConfig, TrainConfig
from aecore.core.errors import CacheCorrupt, InvalidConfig, RunNotFound
from aecore.data import datasets
from aecore.data.canvas_digits import load_canvas_digits
from aecore.data.jitter import jitter
from aecore.models import Autoencoder, from_config
from aecore.runs import store
from aecore.training import codestats, latents
from aecore.training.loop import DoneEvent, Event, History, pick_device
from aecore.training.loop import run as train_loop


@dataclass(frozen=True)
class Run:
    run_id: str
    config: TrainConfig
    model: Autoencoder  # on the CPU, in eval mode; shared, so never train it in place
    history: History
    metrics: dict
    # sha256 of the weights (12 hex): a stopped run trained again keeps its run id but not
    # its weights, so everything derived from a run is keyed by this too (DESIGN.md).
    weights_id: str = ""

    @property
    def derived_dir(self) -> Path:
        """Where the codes, maps and heads of exactly these weights are stored."""
        return store.run_dir(self.run_id) / f"derived-{self.weights_id}"


@dataclass(frozen=True)
class RunSummary:
    """A stored run without its weights: enough for tables and for finding derived results."""
    run_id: str
    config: TrainConfig
    metrics: dict
    weights_id: str

    derived_dir = Run.derived_dir

    @property
    def complete(self) -> bool:
        return not self.metrics.get("stopped")


@dataclass(frozen=True)
class RunReady:
    """The last event of train: the saved (or cached) run."""
    run: Run
    cached: bool


# The test codes kept during training (float16 [S, 10000, k]): in the run's folder, so they are
# written and replaced with its weights, but read only by the map over training.
SNAPSHOTS = "snapshots.safetensors"


# --- runs ---------------------------------------------------------------------------------------

def run_files(cfg: TrainConfig, done: DoneEvent, device: str,
              test_x: torch.Tensor | None = None) -> store.Files:
    """A finished (or stopped) training as the files of its run folder. With the test images,
    a VAE's metrics gain its KL, active units and negative ELBO."""
    epochs = done.history.epochs
    extra = model_metrics(done.model, test_x) if test_x is not None else {}
    metrics = {**extra,
        "train_loss": epochs[-1]["train_loss"], "test_loss": epochs[-1]["test_loss"],
        "epochs_done": len(epochs), "stopped": done.stopped, "seconds": done.seconds,
        "seconds_per_epoch": float(np.median([e["seconds"] for e in epochs])),
        "device": device, "created": time.time(),
    }
    files = {
        "config.json": store.json_bytes(cfg.to_dict()),
        "weights.safetensors": store.tensor_bytes(done.model.state_dict()),
        "history.json": store.json_bytes(done.history.to_dict()),
        "metrics.json": store.json_bytes(metrics),
    }
    if done.snapshots:
        files[SNAPSHOTS] = store.tensor_bytes({
            "epochs": torch.tensor([s.epoch for s in done.snapshots], dtype=torch.float32),
            "codes": torch.stack([s.codes for s in done.snapshots])})
    return files


def train(cfg: TrainConfig, stop: threading.Event | None = None, device: str = "auto",
          force: bool = False) -> Iterator[Event | RunReady]:
    """Train events, then RunReady. A complete cached run is returned at once unless `force`.

    A stopped training is saved only if at least one epoch finished (its metrics say where it
    stopped); asking for the same config again retrains it.
    """
    run_id = cfg.key()
    dev = pick_device(device)  # a device this machine lacks is refused, cached run or not
    if not force and (cached := find_complete(run_id)) is not None:
        yield RunReady(cached, True)
        return
    with store.lock(f"run-{run_id}"):
        if not force and (cached := find_complete(run_id)) is not None:
            yield RunReady(cached, True)
            return
        for item in train_fresh(cfg, stop, str(dev)):
            if isinstance(item, dict):  # the run's files
                store.write_artefact(store.run_dir(run_id), item)
                yield RunReady(load_run(run_id), False)
                return
            yield item


def train_fresh(cfg: TrainConfig, stop: threading.Event | None, device: str,
                data: datasets.Dataset | None = None) -> Iterator[Event | store.Files]:
    """Train cfg from scratch on data (by default its dataset, loaded), reading and writing no
    cache (a Ray task runs this on another machine): its events, then the run folder's files,
    none if it stopped before its first epoch ended."""
    data = data if data is not None else datasets.load(cfg.dataset)
    for event in train_loop(cfg, data, stop, device):
        if isinstance(event, DoneEvent):
            if event.epochs_done:
                yield run_files(cfg, event, device, data.test_x)
            return
        yield event


def model_metrics(model: Autoencoder, test_x: torch.Tensor) -> dict:
    """A VAE's KL per dimension, active units and test negative ELBO; nothing for the rest."""
    if not model.variational:
        return {}
    return codestats.variational_stats(model.cpu().eval(), test_x).to_dict()


def variational_stats(run: Run) -> codestats.VariationalStats | None:
    """A VAE run's KL figures: from its metrics, or computed again when they are missing
    (a run saved without them, a hand-edited file); None for the other models."""
    if not run.model.variational:
        return None
    if (stored := metrics.variational(run.metrics)) is not None:
        return codestats.VariationalStats(**stored)
    return codestats.variational_stats(run.model, datasets.load(run.config.dataset).test_x)


def find_complete(run_id: str) -> Run | None:
    """The run if it is stored and finished all its epochs, else None."""
    try:
        run = load_run(run_id)
    except RunNotFound:
        return None
    return None if run.metrics.get("stopped") else run


# Read on their own, checked against the manifest: a bad one reads as unknown, never moves
# the run aside (its weights are what make it a run).
LENIENT = ("metrics.json", "history.json")


def load_run(run_id: str) -> Run:
    folder = store.run_dir(run_id)
    listed = (folder / store.MANIFEST).exists()
    files = store.read_artefact(folder, skip=(SNAPSHOTS, *LENIENT))
    if files is None and listed and not folder.exists():
        raise RunNotFound(f"run {run_id} was unreadable and was moved aside "
                          f"({folder.name}.corrupt-*): train it again")
    if files is None:
        raise RunNotFound(f"no run {run_id} in {store.runs_dir()} (see `aecore runs`)")
    return _parse_run(run_id, files)


def weights_id(run_id: str) -> str | None:
    """The stored weights' id from the run's manifest alone (cheap: no weights are read), or
    None when there is no such run. The app's caches key a run by it."""
    digest = store.listed_digest(store.run_dir(run_id), "weights.safetensors")
    return digest[:12] if digest else None


def summary(run_id: str) -> RunSummary | None:
    """The run's config and metrics, read without its weights; None if it is not stored or
    its config does not read or describes another run, as `load_run` finds (nothing is moved
    aside: listing runs must not change them)."""
    folder = store.run_dir(run_id)
    found = store.read_checked(folder, ("config.json", "metrics.json"))
    if found is None or not isinstance(weights := found[0].get("weights.safetensors"), str):
        return None
    files = found[1]
    try:
        cfg = TrainConfig.from_dict(store.parse_json(files, "config.json", folder))
    except (CacheCorrupt, ValueError, KeyError, TypeError, AttributeError):
        return None
    if cfg.key() != run_id:  # a hand edit: listed under the old id, it would be mislabelled
        return None
    return RunSummary(run_id, cfg, _readable_metrics(files, folder), weights[:12])


def _readable_metrics(files: store.Files, folder: Path) -> dict:
    try:
        return metrics.readable(store.parse_json(files, "metrics.json", folder))
    except CacheCorrupt:
        return metrics.readable(None)


def _parse_run(run_id: str, files: store.Files) -> Run:
    folder = store.run_dir(run_id)
    try:
        cfg = TrainConfig.from_dict(store.parse_json(files, "config.json", folder))
    except (CacheCorrupt, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RunNotFound(f"run {run_id}'s config.json does not read ({exc}); the run was "
                          "left in place") from exc
    if cfg.key() != run_id:  # a hand edit: the weights may still be right for the old one
        raise RunNotFound(f"run {run_id}'s config.json describes another run ({cfg.key()}); "
                          "the run was left in place")
    try:
        tensors = store.parse_tensors(files, "weights.safetensors", folder)
    except CacheCorrupt as exc:
        store.quarantine(folder, str(exc))
        raise RunNotFound(f"run {run_id} was unreadable and was moved aside: {exc}") from exc
    model = from_config(cfg)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:  # another model's layers: a format change, not damage
        raise RunNotFound(f"run {run_id}'s weights do not fit its config (written by another "
                          "version of aecore?); the run was left in place") from exc
    lenient = store.read_checked(folder, LENIENT)
    lenient = lenient[1] if lenient else {}
    try:
        history = History.readable(store.parse_json(lenient, "history.json", folder))
    except CacheCorrupt:
        history = History()
    weights = hashlib.sha256(files["weights.safetensors"]).hexdigest()[:12]
    return Run(run_id, cfg, model.eval(), history, _readable_metrics(lenient, folder), weights)


def list_runs() -> list[dict]:
    """Every stored run whose config reads, newest first: run_id, config and metrics (unknown
    fields None), from their summaries: no weights are read, nothing is moved aside."""
    return [{"run_id": s.run_id, "config": s.config.to_dict(), "metrics": s.metrics}
            for run_id in store.list_run_ids() if (s := summary(run_id)) is not None]



def removable(run_id: str) -> Path:
    """The folder `remove_run` would remove, checked without removing anything: RunNotFound
    for a malformed id or no such folder, CacheCorrupt for a symlink or a file in its place.
    A caller removing several runs checks them all first."""
    folder = store.run_dir(run_id)
    if not (folder.is_symlink() or folder.exists()):
        raise RunNotFound(f"no run {run_id} in {store.runs_dir()} (see `aecore runs`)")
    if folder.is_symlink() or not folder.is_dir():
        what = "a symbolic link" if folder.is_symlink() else "not a folder"
        raise CacheCorrupt(f"{folder} is {what}, not a run folder aecore wrote: it was left "
                           "in place (remove it by hand if it is yours)")
    return folder


def remove_run(run_id: str) -> int:
    """Remove a stored run (weights, snapshots, everything derived from it); the bytes freed.

    Under the run's lock, as train writes it, so a training of the same config is never cut
    in half: the removal waits for it, or the training starts after. The folder is renamed
    aside, then deleted, so a reader sees the whole run or none; symlinks are never followed.
    Quarantined copies (<id>.corrupt-*) are left alone. RunNotFound if there is no such run.
    """
    removable(run_id)  # before the lock: a malformed id never names a lock file
    with store.lock(f"run-{run_id}"):
        folder = removable(run_id)
        try:
            return store.remove_artefact(folder)
        except FileNotFoundError as exc:  # removed by hand between the check and the rename
            raise RunNotFound(f"no run {run_id} in {store.runs_dir()}") from exc

# --- codes, maps, heads ------------------------------------------------------------------------

def codes(run: Run) -> tuple[torch.Tensor, torch.Tensor]:
    """(train codes [60000, k], test codes [10000, k]), float32, cached per run."""
    def compute() -> store.Files:
        data = datasets.load(run.config.dataset)
        return {"codes.safetensors": store.tensor_bytes({
            "train": latents.encode(run.model, data.train_x),
            "test": latents.encode(run.model, data.test_x)})}

    folder = run.derived_dir / "latents"
    files, _ = store.get_or_compute(folder, compute)
    tensors = store.parse_tensors(files, "codes.safetensors", folder)
    return tensors["train"], tensors["test"]


def map_folder(run: Run, cfg: ProjectionConfig) -> Path:
    return run.derived_dir / f"map-{cfg.key()}"


def head_folder(run: Run, cfg: HeadConfig) -> Path:
    return run.derived_dir / f"head-{cfg.key()}"


PREFERRED_HEADS = ("mlp", "linear")  # the better head first, where both were trained


def stored_head_name(run: Run, names: tuple[str, ...] = PREFERRED_HEADS) -> str | None:
    """The first of these heads that was trained before for the run (none is trained here)."""
    for name in names:
        if is_valid(head_folder(run, HeadConfig(head=name))):
            return name
    return None


def is_stored(folder: Path) -> bool:
    """True when a complete artefact is on disk (checked in full when it is read)."""
    return (folder / store.MANIFEST).is_file()


def is_valid(folder: Path) -> bool:
    """True when a complete artefact is on disk, matches its checksums and reads right; a
    corrupt one is moved aside. A page checks this before it reads a result, so that it never
    recomputes one in the server's process."""
    return store.read_artefact(folder, check=content_check(folder)) is not None


def _numbers(files: store.Files, name: str, folder: Path, required: tuple[str, ...],
             optional: tuple[str, ...] = ()) -> dict:
    """The JSON file, checked: each required field, and each optional one present, a number
    (a derived result that does not read is recomputed, never shown)."""
    data = store.parse_json(files, name, folder)
    if not isinstance(data, dict):
        raise CacheCorrupt(f"{folder / name} is not a JSON object")
    bad = [k for k in required if metrics.number(data.get(k)) is None] + [
        k for k in optional if k in data and metrics.number(data[k]) is None]
    if bad:
        raise CacheCorrupt(f"{folder / name}: {', '.join(bad)} not a number")
    return data


def _check_map(files: store.Files, folder: Path) -> None:
    meta = _numbers(files, "meta.json", folder, ("seconds",))
    if meta.get("knn_accuracy_2d") is not None:  # null: a dataset without labels
        _numbers(files, "meta.json", folder, ("knn_accuracy_2d",))


def _check_head(files: store.Files, folder: Path) -> None:
    report = _numbers(files, "report.json", folder, ("test_accuracy",),
                      ("train_accuracy", "canvas_accuracy", "seconds"))
    base = report.get("baselines", {})
    per_class, confusion = report.get("per_class", []), report.get("confusion", [])
    rows = confusion if isinstance(confusion, list) else [None]
    tables = [base.values() if isinstance(base, dict) else [None],
              per_class if isinstance(per_class, list) else [None],
              *(row if isinstance(row, list) else [None] for row in rows)]
    if any(metrics.number(v) is None for values in tables for v in values):
        raise CacheCorrupt(f"{folder / 'report.json'}: its tables are not all numbers")


def content_check(folder: Path) -> store.Check | None:
    """How a derived result of this folder's kind is checked when it is read."""
    name = folder.name
    return _check_head if name.startswith("head-") else _check_map if name.startswith(
        "map-") else None


@dataclass(frozen=True)
class MapResult:
    map: projection.Map
    knn_accuracy_2d: float | None  # None: the dataset has no labels
    cached: bool


def label_accuracy(embedding: np.ndarray, labels: np.ndarray) -> float | None:
    """The map's 2-D 5-NN label accuracy; None for one label (an unlabelled dataset), where it
    would be a trivial 1.0."""
    return projection.knn_accuracy_2d(embedding, labels) if len(np.unique(labels)) > 1 else None


def embed(run: Run, cfg: ProjectionConfig | None = None) -> MapResult:
    """The 2-D map of the 10,000 test codes, cached per (run, projection config)."""
    cfg = cfg or ProjectionConfig()
    return cached_map(map_folder(run, cfg), codes(run)[1], cfg,
                      lambda: datasets.load(run.config.dataset).test_y.numpy())


def cached_map(folder: Path, points: torch.Tensor, cfg: ProjectionConfig,
               labels: Callable[[], np.ndarray]) -> MapResult:
    """The map of `points` [N, k] stored in `folder`: fitted once, with the 2-D 5-NN accuracy
    of `labels()` [N] on it (None when every label is one: a dataset without labels)."""
    def compute() -> store.Files:
        fitted = projection.fit(points, cfg)
        meta = {"config": cfg.to_dict(), "seconds": fitted.seconds,
                "knn_accuracy_2d": label_accuracy(fitted.embedding, labels())}
        return {"embedding.safetensors": store.tensor_bytes(
                    {"embedding": torch.from_numpy(fitted.embedding)}),
                "meta.json": store.json_bytes(meta)}

    files, cached = store.get_or_compute(folder, compute, _check_map)
    meta = store.parse_json(files, "meta.json", folder)
    emb = store.parse_tensors(files, "embedding.safetensors", folder)["embedding"].numpy()
    return MapResult(projection.Map(cfg, points, emb, meta["seconds"]), meta["knn_accuracy_2d"],
                     cached)


@dataclass(frozen=True)
class HeadResult:
    head: Head
    report: dict
    cached: bool


def _pixels(images: torch.Tensor) -> torch.Tensor:
    return images.reshape(len(images), -1).float() / 255.0


def baselines(dataset: str, k: int, cfg: HeadConfig) -> dict:
    """The same head on raw pixels and on k principal components; shared by a dataset's runs
    (and by a drawing head with its plain twin: the baselines never see jittered copies)."""
    cfg = replace(cfg, jitter=False)
    data = datasets.load(dataset)
    train_px, test_px = _pixels(data.train_x), _pixels(data.test_x)
    out = {}
    for name, features in (("pixels", lambda: (train_px, test_px)),
                           (f"pca{k}", lambda: pca_features(train_px, test_px, k))):
        folder = store.cache_dir() / "baselines" / dataset / f"{name}-{cfg.key()}"

        def compute(features=features) -> store.Files:
            tr, te = features()
            _, report = fit_and_score(tr, data.train_y, te, data.test_y, cfg,
                                      len(data.label_names))
            return {"report.json": store.json_bytes(report)}

        files, _ = store.get_or_compute(folder, compute)
        out[name] = store.parse_json(files, "report.json", folder)["test_accuracy"]
    return {"pixels": out["pixels"], "pca": out[f"pca{k}"]}


def classify(run: Run, cfg: HeadConfig | None = None) -> HeadResult:
    """A head trained on the run's training codes, scored on its test codes, with baselines;
    a drawing head (jitter) without them, so that the Draw page does not wait for them (see
    `with_baselines`)."""
    cfg = cfg or HeadConfig()
    classes = datasets.classes(run.config.dataset)
    if not classes:
        raise InvalidConfig(f"{run.config.dataset} has no labels (its images sit in no class "
                            "folders): a classifier needs them")
    if cfg.jitter and datasets.image_shape(run.config.dataset) != (28, 28):
        raise InvalidConfig("--jitter (the drawing head's slanted and thickened copies) is for "
                            f"grey 28x28 images; {run.config.dataset}'s are not")
    train_codes, test_codes = codes(run)

    def compute() -> store.Files:
        data = datasets.load(run.config.dataset)
        start = time.perf_counter()
        features, labels = train_codes, data.train_y
        if cfg.jitter:
            jittered = latents.encode(run.model, jitter(data.train_x, cfg.seed))
            features, labels = torch.cat([features, jittered]), torch.cat([labels, labels])
        head, report = fit_and_score(features, labels, test_codes, data.test_y, cfg,
                                     len(data.label_names))
        if run.config.dataset == "mnist":
            report["canvas_accuracy"] = canvas_accuracy(run, head)
        report["seconds"] = time.perf_counter() - start
        if not cfg.jitter:
            report["baselines"] = baselines(run.config.dataset, run.config.latent_dim, cfg)
        report["config"] = cfg.to_dict()
        return {"weights.safetensors": store.tensor_bytes(head.state_dict()),
                "report.json": store.json_bytes(report)}

    folder = head_folder(run, cfg)
    files, cached = store.get_or_compute(folder, compute, _check_head)
    head = Head(run.config.latent_dim, cfg, len(classes))
    head.load_state_dict(store.parse_tensors(files, "weights.safetensors", folder))
    report = store.parse_json(files, "report.json", folder)
    if "canvas_accuracy" not in report and run.config.dataset == "mnist":  # an older head's
        report["canvas_accuracy"] = canvas_accuracy(run, head)
    return HeadResult(head.eval(), report, cached)


def with_baselines(run: Run, cfg: HeadConfig, report: dict) -> dict:
    """The head's report with its baselines: a drawing head's are added here (computed once
    per dataset and size, and shared with its plain twin)."""
    if "baselines" in report:
        return report
    return {**report, "baselines": baselines(run.config.dataset, run.config.latent_dim, cfg)}


def canvas_accuracy(run: Run, head: Head) -> float:
    """The head's accuracy on the canvas-style digits (drawn from fonts and strokes, never
    MNIST): how well it reads drawings."""
    canvas = load_canvas_digits()
    predicted = head.probabilities(latents.encode(run.model, canvas.images)).argmax(1)
    return float((predicted == canvas.labels).float().mean())
