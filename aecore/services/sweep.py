"""Sweeps: every config of a grid (models x latent sizes x seeds) trained once, then its
linear and MLP heads and its UMAP map computed, so that the Compare page and `aecore report`
can draw curves over k. A run already trained is reused, never trained again.

Backends: "local" trains here, one config after another; "ray" trains each config as a Ray
task (aecore/services/ray_backend.py). The app runs its sweeps through its training queue (Tracker).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from aecore.core.config import MODELS, TrainConfig, check_dataset_name
from aecore.core.errors import AecoreError, InvalidConfig
from aecore.data import datasets
from aecore.runs import compare, dataquality, pipeline

LATENT_DIMS = (2, 4, 8, 16, 32, 64, 128)
MAX_CONFIGS = 200
# What a sweep computes for each trained run, besides training it.
DERIVED = (*(f"{name} head" for name in compare.HEADS), "map")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepSpec:
    dataset: str = "mnist"
    models: tuple[str, ...] = ("dense",)
    latent_dims: tuple[int, ...] = LATENT_DIMS
    epochs: int = 10
    seeds: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        check_dataset_name(self.dataset)
        if self.dataset not in datasets.names():
            raise InvalidConfig(f"no dataset called {self.dataset!r}: choose from "
                                f"{', '.join(datasets.names())}, or add one with aecore data add")
        for name, values in (("models", self.models), ("latent sizes", self.latent_dims),
                             ("seeds", self.seeds)):
            if not values:
                raise InvalidConfig(f"a sweep needs at least one of its {name}")
        unknown = [m for m in self.models if m not in MODELS]
        if unknown:
            raise InvalidConfig(f"unknown model {unknown[0]!r}: choose from {', '.join(MODELS)}")
        if len(self.configs()) > MAX_CONFIGS:
            raise InvalidConfig(f"a sweep of {len(self.configs())} runs is more than "
                                f"{MAX_CONFIGS}: sweep fewer sizes, models or seeds")

    def configs(self) -> list[TrainConfig]:
        """Each distinct config once, by model, then k, then seed (each one validated)."""
        seen: dict[TrainConfig, None] = {}
        for model in self.models:
            for k in sorted(set(self.latent_dims)):
                for seed in sorted(set(self.seeds)):
                    seen[TrainConfig(dataset=self.dataset, model=model, latent_dim=k,
                                     epochs=self.epochs, seed=seed)] = None
        return list(seen)


def parse_list(text: str, kind: type = str) -> tuple:
    """"2,4, 8" -> (2, 4, 8); a bad item is an InvalidConfig that names it."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    try:
        return tuple(kind(item) for item in items)
    except ValueError:
        raise InvalidConfig(f"{text!r} is not a comma-separated list of "
                            f"{'whole numbers' if kind is int else 'names'}") from None


def missing(s: pipeline.RunSummary | None, dataset: str | None = None) -> list[str]:
    """Which of DERIVED are not stored yet for this run (all of them if it is not trained; a
    dataset without labels gets a map alone)."""
    dataset = s.config.dataset if s is not None else dataset
    wanted = DERIVED if dataset is None or datasets.classes(dataset) else ("map",)
    if s is None or not s.complete:
        return list(wanted)
    folders = [*(pipeline.head_folder(s, cfg) for cfg in compare.HEADS.values()),
               pipeline.map_folder(s, compare.MAP)]
    return [name for name, folder in zip(DERIVED, folders, strict=True)
            if name in wanted and not pipeline.is_stored(folder)]


def derived_left(s: pipeline.RunSummary | None) -> int:
    return len(missing(s))


@dataclass(frozen=True)
class Outcome:
    """One config of a sweep: its run, or why it failed."""
    config: TrainConfig
    run_id: str | None
    error: str = ""

    def failure(self) -> dict:
        c = self.config
        return {"run_id": c.key(), "model": c.model, "latent_dim": c.latent_dim,
                "epochs": c.epochs, "seed": c.seed, "error": self.error}


def settle(cfg: TrainConfig, get_run: Callable[[], pipeline.Run],
           derive_run: Callable[[pipeline.Run], None]) -> Outcome:
    """One config of a sweep, on every backend (here, a Ray task, the app's queue): its run,
    then its heads and map. A failure is this config's alone; the others still land."""
    try:
        run = get_run()
        derive_run(run)
    except Exception as exc:
        return Outcome(cfg, None, reason(exc))
    return Outcome(cfg, run.run_id)


def run_local(configs: list[TrainConfig], device: str = "auto",
              step: Callable[[str], None] = lambda _: None) -> Iterator[Outcome]:
    """Train (or reuse) each config here, then derive its heads and map. `step` is told what
    ends, one call per training and per derived result."""
    def train_here(cfg: TrainConfig) -> pipeline.Run:
        ready = None
        for event in pipeline.train(cfg, device=device):
            ready = event
        reused = isinstance(ready, pipeline.RunReady) and ready.cached
        step(f"{'reused' if reused else 'trained'} {cfg.model} k={cfg.latent_dim}")
        if not isinstance(ready, pipeline.RunReady):
            raise AecoreError("the training ended before its first epoch")
        return ready.run

    for cfg in configs:
        yield settle(cfg, lambda cfg=cfg: train_here(cfg), lambda run: derive(run, step))


def derive(run: pipeline.Run, step: Callable[[str], None] = lambda _: None) -> None:
    """The heads and the map a sweep computes for each run (cached: free when stored); a
    dataset without labels gets its map alone."""
    labelled = bool(datasets.classes(run.config.dataset))
    for name, cfg in compare.HEADS.items():
        if labelled:
            pipeline.classify(run, cfg)
        step(f"{name} head" if labelled else f"{name} head (no labels)")
    pipeline.embed(run, compare.MAP)
    dataquality.clusters(run, compare.MAP)  # HDBSCAN on the map (a fraction of a second)
    step("map")


@dataclass(frozen=True)
class Progress:
    runs_done: int
    runs_total: int
    derived_left: int
    heads_left: int
    maps_left: int
    finished: bool
    cancelled: bool
    errors: list[str]

    def text(self) -> str:
        parts = [f"{self.runs_done} of {self.runs_total} runs"]
        if self.heads_left:
            parts.append(f"{self.heads_left} head{'s' * (self.heads_left != 1)} left")
        if self.maps_left:
            parts.append(f"{self.maps_left} map{'s' * (self.maps_left != 1)} left")
        return ", ".join(parts)


@dataclass
class Tracker:
    """A sweep in the app: its trainings go through the server's training queue (one at a
    time, shown on the Train page like any other); as each ends, `derive` computes its heads
    and map (in the app: on the background worker). Cancel drops what has not started."""
    spec: SweepSpec
    queue: object                       # aecore.services.jobs.TrainingQueue
    derive: Callable[[pipeline.Run], None]
    sweep_id: str = ""
    job_ids: dict[TrainConfig, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    finished: bool = False
    started: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.configs = self.spec.configs()
        self._cancel = threading.Event()
        self.sweep_id = self.sweep_id or f"sweep-{uuid.uuid4().hex[:10]}"
        self._token = uuid.uuid4().hex  # its hold on its trainings: the id is in links
        for cfg in self.configs:
            if pipeline.find_complete(cfg.key()) is None:
                self.job_ids[cfg] = self.queue.submit(cfg, origin="sweep", owner=self._token)
        self._thread = threading.Thread(target=self._work, name=f"aecore-{self.sweep_id}",
                                        daemon=True)
        self._thread.start()

    def close(self, timeout: float = 60) -> bool:
        """Cancel, and wait for the sweep's thread to end (a derivation under way finishes);
        True once it has."""
        self.cancel()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def cancel(self) -> None:
        """Drops the sweep's queued trainings that nobody else asked for (a person or another
        sweep keeps its own); the running one finishes."""
        if self._cancel.is_set():
            return
        self._cancel.set()
        for job_id in self.job_ids.values():
            self.queue.release(job_id, self._token)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _wait_for_training(self, cfg: TrainConfig) -> None:
        job_id = self.job_ids.get(cfg)
        status = self.queue.wait(job_id) if job_id is not None else None
        if status is not None and status.state != "done" and not self.cancelled:
            self.errors.append(f"{_describe(cfg)}: {status.state}: {status.message}")

    def _work(self) -> None:
        try:
            for cfg in self.configs:
                self._wait_for_training(cfg)
                if self.cancelled:
                    return
                run = pipeline.find_complete(cfg.key())
                if run is None:  # its training's failure is reported already
                    continue
                if (outcome := settle(cfg, lambda run=run: run, self.derive)).error:
                    self.errors.append(f"{_describe(cfg)}: {outcome.error}")
        finally:
            self.finished = True

    def progress(self) -> Progress:
        summaries = [pipeline.summary(cfg.key()) for cfg in self.configs]
        done = [s for s in summaries if s is not None and s.complete]
        left = [name for s in summaries for name in missing(s, self.spec.dataset)]
        maps = left.count("map")
        return Progress(len(done), len(self.configs), len(left), len(left) - maps, maps,
                        self.finished, self.cancelled, list(self.errors))


def reason(exc: Exception) -> str:
    """An engine error's sentence; anything else (a bug, out of memory) with its type, its
    traceback logged: one line for the person, the whole story in the log."""
    if isinstance(exc, AecoreError):
        return str(exc)
    log.error("a sweep step failed", exc_info=exc)
    return f"{type(exc).__name__}: {exc}"


def _describe(cfg: TrainConfig) -> str:
    return f"{cfg.model} k={cfg.latent_dim} seed {cfg.seed}"
