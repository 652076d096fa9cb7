"""Background work for the app: a training queue (one job at a time) and keyed tasks.

No streamlit here: the app keeps one TrainingQueue and one Tasks per server (cache_resource)
and polls snapshots; a closed or refreshed tab never owns the work, so it goes on.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aecore.core.config import TrainConfig
from aecore.core.errors import AecoreError
from aecore.data import datasets
from aecore.runs import pipeline
from aecore.training.loop import BatchEvent, EpochEvent

log = logging.getLogger("aecore")
MAX_KEPT = 1_000  # ended background tasks a server remembers (each a few bytes)
KEPT_TRAININGS = 100  # finished trainings it remembers (each with its loss curve)
KEEP_SECONDS = 600.0  # ... beyond which one that ended this recently is still kept
MAX_CURVE_POINTS = 1_000



def steps_per_epoch(cfg: TrainConfig) -> int:
    """Batches in one epoch of cfg's dataset (a batch larger than the split is one)."""
    try:
        return math.ceil(datasets.train_size(cfg.dataset) / cfg.batch_size)
    except AecoreError:  # its dataset removed meanwhile: the training will say so itself
        return 1

class Curve:
    """(step, loss) pairs kept under a bound by averaging neighbours when it fills up."""

    def __init__(self, limit: int = MAX_CURVE_POINTS) -> None:
        self.limit = limit
        self.steps: list[float] = []
        self.values: list[float] = []
        self._pending: list[tuple[int, float]] = []
        self.stride = 1

    def add(self, step: int, value: float) -> None:
        self._pending.append((step, value))
        if len(self._pending) < self.stride:
            return
        self.steps.append(sum(s for s, _ in self._pending) / len(self._pending))
        self.values.append(sum(v for _, v in self._pending) / len(self._pending))
        self._pending = []
        # Halve at an even count only, so that no point is dropped (and the mean holds).
        if len(self.values) > self.limit and len(self.values) % 2 == 0:
            self.steps, self.values = _halve(self.steps), _halve(self.values)
            self.stride *= 2


def _halve(values: list[float]) -> list[float]:
    """Means of neighbouring pairs (an odd last value is dropped)."""
    return [(a + b) / 2 for a, b in zip(values[::2], values[1::2], strict=False)]


@dataclass(frozen=True)
class JobStatus:
    """A copy of a job's state that a page can read without locks."""
    job_id: str
    config: TrainConfig
    state: str  # queued, running, done, stopped, cancelled, failed
    position: int  # 0 while running, n when n-th in the queue
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    batch_steps: list[float] = field(default_factory=list)
    batch_losses: list[float] = field(default_factory=list)
    batch_kl: list[float] = field(default_factory=list)  # a VAE's, at batch_steps
    epochs: list[dict] = field(default_factory=list)
    elapsed: float = 0.0
    message: str = ""
    run_id: str | None = None
    origin: str = ""  # "sweep" for a sweep's training, else a person's

    @property
    def finished(self) -> bool:
        return self.state in ("done", "stopped", "cancelled", "failed")

    @property
    def fraction(self) -> float:
        return self.step / self.total_steps if self.total_steps else 0.0

    @property
    def seconds_left(self) -> float | None:
        if self.step == 0 or self.finished:
            return None
        return self.elapsed * (self.total_steps - self.step) / self.step


class TrainingJob:
    def __init__(self, cfg: TrainConfig, device: str, origin: str, owner: str) -> None:
        self.job_id = uuid.uuid4().hex[:10]
        self.config, self.device = cfg, device
        self.stop_event = threading.Event()
        self.ended = threading.Event()  # set once it has finished, whichever way
        # Who may stop it while it runs: the submitter that started it (a session's or a
        # sweep's token, never in a URL). Holders: submitters that still want it.
        self.owner = owner
        self.holders = {owner}
        self.curve = Curve()
        self.kl_curve = Curve()
        self.lock = threading.Lock()
        self.started = 0.0
        self.finished_at = 0.0
        self.status = JobStatus(self.job_id, cfg, "queued", 1, origin=origin,
                                total_steps=cfg.epochs * steps_per_epoch(cfg))

    def update(self, **changes: Any) -> None:
        with self.lock:
            was_finished = self.status.finished
            self.status = replace(self.status, **changes)
            if self.status.finished and not was_finished:
                self.finished_at = time.monotonic()
                self.ended.set()

    def snapshot(self, position: int) -> JobStatus:
        with self.lock:
            elapsed = time.perf_counter() - self.started if self.started else 0.0
            live = {} if self.status.finished else {"elapsed": elapsed}
            return replace(self.status, position=position, batch_steps=list(self.curve.steps),
                           batch_losses=list(self.curve.values),
                           batch_kl=list(self.kl_curve.values), **live)


class TrainingQueue:
    """Runs training jobs one at a time, first come first served, in a daemon thread."""

    def __init__(self, trainer: Callable = pipeline.train) -> None:
        self._trainer = trainer
        self._cond = threading.Condition()
        self._waiting: deque[TrainingJob] = deque()
        self._jobs: dict[str, TrainingJob] = {}
        self._running: TrainingJob | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="aecore-training", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 60) -> bool:
        """Cancel what waits, stop what runs, end the queue's thread; True once it has ended
        (a server that shuts down, a test's teardown)."""
        with self._cond:
            self._closed = True
            for job in [*self._waiting, self._running]:
                if job is not None:
                    self.stop(job.job_id)
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def submit(self, cfg: TrainConfig, device: str = "auto", origin: str = "",
               owner: str | None = None) -> str:
        """Queue a training for `owner` (a token; by default one nobody else has); the same
        config already queued or running is joined, not repeated."""
        owner = owner or uuid.uuid4().hex
        with self._cond:
            if self._closed:
                raise AecoreError("the training queue is closed: the server is shutting down")
            for job in [self._running, *self._waiting]:
                if job is not None and job.config == cfg:
                    job.holders.add(owner)
                    return job.job_id
            job = TrainingJob(cfg, device, origin, owner)
            self._forget_finished()
            self._jobs[job.job_id] = job
            self._waiting.append(job)
            self._cond.notify()
            return job.job_id

    def _forget_finished(self) -> None:
        """At most KEPT_TRAININGS finished jobs (each holds its loss curve), the first finished
        first, and none that ended in the last KEEP_SECONDS (its session may not have looked
        yet); a session that asks for a forgotten one finds its run in the sidebar."""
        now = time.monotonic()
        finished = sorted((job.finished_at, i) for i, job in self._jobs.items()
                          if job.status.finished)
        for ended, job_id in finished[:max(len(finished) - KEPT_TRAININGS, 0)]:
            if now - ended > KEEP_SECONDS:
                del self._jobs[job_id]

    def release(self, job_id: str, owner: str) -> bool:
        """Give up owner's hold on a job; a job nobody holds any more is dropped if it has
        not started (checked and done under the queue's lock, so a job that starts meanwhile
        is never stopped, nor one that a person or another sweep also asked for)."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                return False
            job.holders.discard(owner)
            if job.owner == owner and job.holders:  # who still wants it may now stop it
                job.owner = next(iter(job.holders))
            if job.holders or job not in self._waiting:
                return False
            self._waiting.remove(job)
            job.update(state="cancelled", message="cancelled before it started")
            return True

    def owns(self, job_id: str, owner: str) -> bool:
        """Whether owner started this job (and so may stop it while it runs)."""
        with self._cond:
            job = self._jobs.get(job_id)
            return job is not None and bool(owner) and job.owner == owner

    def stop_as(self, job_id: str, owner: str) -> bool:
        """A submitter's Stop or Cancel: a queued job is dropped once nobody holds it; a
        running one stops only for the submitter that started it (one who joined it, or holds
        a link to its page, only lets go). True when the job was stopped or dropped."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None or not owner:
                return False
            if job in self._waiting:
                return self.release(job_id, owner)
            if job is self._running and job.owner == owner:
                job.stop_event.set()
                return True
            self.release(job_id, owner)
            return False

    def stop(self, job_id: str) -> None:
        """Stop or drop a job whoever holds it (the server's own: shutting down)."""
        with self._cond:  # re-entrant: close() calls this under the same lock
            job = self._jobs.get(job_id)
            if job is None:
                return
            if job in self._waiting:
                self._waiting.remove(job)
                job.update(state="cancelled", message="cancelled before it started")
            job.stop_event.set()

    def status(self, job_id: str) -> JobStatus | None:
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            position = (0 if job is self._running else
                        list(self._waiting).index(job) + 1 if job in self._waiting else 0)
        return job.snapshot(position)

    def wait(self, job_id: str) -> JobStatus | None:
        """The job's status once it has finished (at once for a job the queue forgot)."""
        with self._cond:
            job = self._jobs.get(job_id)
        if job is None:
            return None
        job.ended.wait()
        return self.status(job_id) or job.snapshot(0)

    def current(self) -> JobStatus | None:
        """The running job, else the first queued one: what a fresh tab should show."""
        with self._cond:
            job = self._running or (self._waiting[0] if self._waiting else None)
        return self.status(job.job_id) if job else None

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._running = self._waiting.popleft()
            try:
                self._run(job)
            except AecoreError as exc:
                job.update(state="failed", message=str(exc))
            except Exception as exc:  # a bug or a fault (out of memory ...): say it, keep serving
                log.exception("training job %s failed", job.job_id)
                job.update(state="failed", message=f"{type(exc).__name__}: {exc}")
            finally:
                with self._cond:
                    self._running = None

    def _run(self, job: TrainingJob) -> None:
        job.started = time.perf_counter()
        job.update(state="running")
        for event in self._trainer(job.config, stop=job.stop_event, device=job.device):
            if isinstance(event, BatchEvent):
                with job.lock:
                    job.curve.add(event.step, event.loss)
                    if event.kl is not None:
                        job.kl_curve.add(event.step, event.kl)
                job.update(step=event.step, epoch=event.epoch)
            elif isinstance(event, EpochEvent):
                job.update(epochs=[*job.status.epochs, vars(event).copy()])
            elif isinstance(event, pipeline.RunReady):
                self._finish(job, event)
                return
        job.update(state="stopped", elapsed=time.perf_counter() - job.started,
                   message="stopped before the first epoch ended: nothing was kept")

    @staticmethod
    def _finish(job: TrainingJob, ready: pipeline.RunReady) -> None:
        metrics, elapsed = ready.run.metrics, time.perf_counter() - job.started
        if ready.cached:
            history = ready.run.history
            for step, loss in enumerate(history.batch_loss, 1):
                job.curve.add(step, loss)
            for step, kl in enumerate(history.batch_kl, 1):
                job.kl_curve.add(step, kl)
            job.update(state="done", run_id=ready.run.run_id, epochs=history.epochs,
                       step=job.status.total_steps, elapsed=elapsed,
                       message="loaded from the cache: this config was trained before")
        elif metrics.get("stopped"):
            job.update(state="stopped", run_id=ready.run.run_id, elapsed=elapsed,
                       message=f"stopped after epoch {metrics['epochs_done']} of "
                               f"{job.config.epochs}; the finished epochs were kept")
        else:
            n = metrics["epochs_done"]
            job.update(state="done", run_id=ready.run.run_id, elapsed=elapsed,
                       message=f"trained {n} epoch{'s' * (n != 1)}: test BCE "
                               f"{metrics['test_loss']:.4f} in {elapsed:.1f} s")


@dataclass
class Task:
    key: str
    state: str = "running"  # running, done, failed (what it computed is in the cache: a
    error: str = ""          # task keeps no result, so a day of maps leaves no memory behind)
    attempt: int = 1
    recompute: bool = False  # started again because its done result went missing
    started: float = field(default_factory=time.perf_counter)
    ended: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)


class Tasks:
    """Keyed background computations (a map fit, a head): each key runs once at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._threads: list[threading.Thread] = []
        self._closed = False

    def close(self, timeout: float = 120) -> bool:
        """Start nothing more, and wait for the running tasks to end (a computation in a thread
        cannot be interrupted); True once all have. A server that shuts down, a test's
        teardown; called again, it waits again for what had not ended."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0))
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            return not self._threads

    def start(self, key: str, fn: Callable[[], Any], retry: bool = False,
              recompute: bool = False) -> Task:
        """The task for key, started now unless it exists. An ended task (failed, or done but
        its result went missing) stays as it is, so a page polling it does not restart it on
        every rerun, until a caller asks to `retry` it; a running task is never doubled."""
        with self._lock:
            task = self._tasks.get(key)
            if task is not None and (task.state == "running" or not retry):
                return task
            attempt = task.attempt + 1 if task is not None else 1
            self._tasks.pop(key, None)  # the newest last: pruning drops the oldest first
            task = self._tasks[key] = Task(key, attempt=attempt, recompute=recompute)
            self._prune()
            if self._closed:
                task.error, task.state = "the server is shutting down", "failed"
                task.ended.set()
                return task
            thread = threading.Thread(target=self._run, args=(task, fn), name=f"aecore-{key}",
                                      daemon=True)
            thread.start()  # under the lock: close() never sees a thread not yet started
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        return task

    def _prune(self) -> None:
        """At most MAX_KEPT done tasks (a server's day of sweeps): the oldest go first."""
        # a failed task is kept: forgotten, a page would start its heavy work again unasked
        ended = [k for k, t in self._tasks.items() if t.state == "done"]
        for key in ended[:max(len(ended) - MAX_KEPT, 0)]:
            del self._tasks[key]

    def get(self, key: str) -> Task | None:
        with self._lock:
            return self._tasks.get(key)

    def running(self) -> list[str]:
        with self._lock:
            return [key for key, task in self._tasks.items() if task.state == "running"]

    @staticmethod
    def _run(task: Task, fn: Callable[[], Any]) -> None:
        try:
            fn()
            task.state = "done"
        except AecoreError as exc:
            task.error, task.state = str(exc), "failed"
        except Exception as exc:
            log.exception("background task %s failed", task.key)
            task.error, task.state = f"{type(exc).__name__}: {exc}", "failed"
        finally:
            task.ended.set()
