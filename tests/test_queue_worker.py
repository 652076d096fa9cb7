"""The app's real path: TrainingQueue -> Worker process -> cache, several jobs in a row.

The first release's suite only ever drove one request per worker, and a second training in the
same server read the first one's leftover replies ("stopped before the first epoch ended").
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from aecore.core.config import ProjectionConfig, TrainConfig
from aecore.core.errors import InvalidConfig, RunNotFound, WorkerDied
from aecore.runs import pipeline
from aecore.services.jobs import JobStatus, TrainingQueue
from aecore.services.worker import Worker
from aecore.training.loop import BatchEvent, EpochEvent
from tests.support import TINY_WORKER


def tiny_config(k: int, epochs: int = 1) -> TrainConfig:
    return TrainConfig(latent_dim=k, epochs=epochs, batch_size=32, lr=3e-2)


@pytest.fixture
def worker(tiny):
    w = Worker(command=TINY_WORKER)
    yield w
    w.close()


def wait_until_finished(queue: TrainingQueue, job_id: str, polls: int = 3000) -> JobStatus:
    for _ in range(polls):  # bounded polling, not a time limit on the code
        status = queue.status(job_id)
        if status.finished:
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never finished: {queue.status(job_id)}")


def wait_for_epoch(queue: TrainingQueue, job_id: str, polls: int = 3000) -> None:
    for _ in range(polls):
        if queue.status(job_id).epochs:
            return
        time.sleep(0.05)
    raise AssertionError("no epoch ended")


def assert_done_as_itself(status: JobStatus, cfg: TrainConfig) -> None:
    assert status.state == "done", status.message
    assert status.config == cfg
    assert status.run_id == cfg.key()
    run = pipeline.load_run(status.run_id)
    assert run.config == cfg and run.metrics["epochs_done"] == cfg.epochs


def test_three_jobs_in_a_row_each_report_their_own_run(worker):
    queue = TrainingQueue(trainer=worker.start().train)
    configs = [tiny_config(8), tiny_config(9), tiny_config(10)]
    ids = [queue.submit(cfg, "cpu") for cfg in configs]
    for job_id, cfg in zip(ids, configs, strict=True):
        assert_done_as_itself(wait_until_finished(queue, job_id), cfg)
    assert {r["run_id"] for r in pipeline.list_runs()} == {c.key() for c in configs}


@pytest.mark.slow
def test_stopping_the_second_job_leaves_the_third_right(worker):
    queue = TrainingQueue(trainer=worker.start().train)
    first, second, third = tiny_config(8), tiny_config(9, epochs=300), tiny_config(10)
    ids = [queue.submit(cfg, "cpu") for cfg in (first, second, third)]
    assert_done_as_itself(wait_until_finished(queue, ids[0]), first)
    wait_for_epoch(queue, ids[1])
    queue.stop(ids[1])
    stopped = wait_until_finished(queue, ids[1])
    assert stopped.state == "stopped" and stopped.run_id == second.key()
    kept = pipeline.load_run(second.key()).metrics
    assert kept["stopped"] and 1 <= kept["epochs_done"] < 300
    assert_done_as_itself(wait_until_finished(queue, ids[2]), third)


@pytest.mark.slow
def test_a_job_after_a_worker_crash_is_right(worker):
    queue = TrainingQueue(trainer=worker.start().train)
    doomed = queue.submit(tiny_config(8, epochs=300), "cpu")
    wait_for_epoch(queue, doomed)
    os.kill(worker.pid, signal.SIGKILL)
    crashed = wait_until_finished(queue, doomed)
    assert crashed.state == "failed" and "worker process ended" in crashed.message
    after = tiny_config(11)
    assert_done_as_itself(wait_until_finished(queue, queue.submit(after, "cpu")), after)


@pytest.mark.slow
def test_an_abandoned_request_does_not_leak_into_the_next(worker):
    for event in worker.train(tiny_config(8, epochs=300), device="cpu"):
        if isinstance(event, BatchEvent):
            break  # the consumer leaves mid-epoch: the request is stopped and drained
    cfg = tiny_config(9)
    events = list(worker.train(cfg, device="cpu"))
    assert [e.epoch for e in events if isinstance(e, EpochEvent)] == [1]
    ready = events[-1]
    assert isinstance(ready, pipeline.RunReady) and ready.run.config == cfg
    assert not any(isinstance(e, pipeline.RunReady) for e in events[:-1])


@pytest.mark.slow
def test_a_stop_sent_before_the_request_starts_is_kept(worker):
    """Stop pressed at once, even before a fresh worker process can handle anything."""
    stop = threading.Event()
    stop.set()
    events = list(worker.train(tiny_config(8, epochs=300), stop=stop, device="cpu"))
    assert not any(isinstance(e, EpochEvent) for e in events)
    assert pipeline.list_runs() == []  # stopped inside epoch 1: nothing kept
    cfg = tiny_config(9)  # and the same process serves the next request
    assert isinstance(list(worker.train(cfg, device="cpu"))[-1], pipeline.RunReady)


@pytest.mark.slow
def test_typed_errors_cross_the_pipe_as_their_own_class(worker):
    with pytest.raises(RunNotFound, match="no run"):
        list(worker._request("embed", "0123456789ab", ProjectionConfig().to_dict()))
    with pytest.raises(InvalidConfig, match="device"):
        list(worker.train(tiny_config(8), device="banana"))
    cfg = tiny_config(9)  # still serving
    assert list(worker.train(cfg, device="cpu"))[-1].run.config == cfg


PARENT = """
import sys, time
from aecore.services.worker import Worker
w = Worker(warm=True, command=[sys.executable, "-m", "tests.tiny_worker"]).start()
print(w.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_the_worker_ends_with_its_parent(cache):
    """A server killed outright leaves no worker behind, not even one warming numba up."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "AECORE_CACHE_DIR": str(cache)})
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    for _ in range(600):  # bounded polling
        if not _alive(child):
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    raise AssertionError("the worker outlived its parent")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False



@pytest.mark.slow
def test_a_request_past_its_limit_ends_its_process(worker):
    """A map or head that hangs (numba and torch's OpenMP have hung together) is ended."""
    worker.start()
    hung = worker.pid
    with pytest.raises(WorkerDied, match="ran for over"):
        list(worker._request("train", tiny_config(8, epochs=300).to_dict(), "cpu", False,
                             limit=1.0))
    cfg = tiny_config(9)
    assert list(worker.train(cfg, device="cpu"))[-1].run.config == cfg
    assert worker.pid != hung
