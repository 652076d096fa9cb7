"""Background work without the app: keyed tasks and the bounded loss curve
(aecore.services.jobs)."""

import statistics
import threading
import time

import pytest

from aecore.services.jobs import MAX_CURVE_POINTS, Curve, Task, Tasks


def wait_until_ended(task: Task, timeout: float = 10.0) -> Task:
    """The task once its `ended` event is set (what a sweep waits on), bounded."""
    assert task.ended.wait(timeout), f"task {task.key} did not end"
    assert task.state != "running"
    return task


def test_a_failed_task_is_not_restarted_unless_asked():
    tasks, calls = Tasks(), []

    def boom():
        calls.append(1)
        raise OSError("no")

    task = wait_until_ended(tasks.start("k", boom))
    assert task.state == "failed" and "OSError: no" in task.error
    assert tasks.start("k", boom) is task and len(calls) == 1  # a page rerun: no restart
    again = wait_until_ended(tasks.start("k", boom, retry=True))
    assert again is not task and again.attempt == 2 and len(calls) == 2
    assert tasks.get("k") is again and again.state == "failed"


def test_a_task_runs_once_per_key_and_keeps_no_result():
    tasks, release, calls = Tasks(), threading.Event(), []

    def slow():
        release.wait(timeout=10)
        calls.append(1)
        return bytearray(10_000_000)  # a map's worth: its copy is in the cache, not here

    task = tasks.start("k", slow)
    assert tasks.start("k", slow, retry=True) is task  # running: never doubled
    assert not task.ended.is_set()
    release.set()
    assert wait_until_ended(task).state == "done" and not hasattr(task, "result")
    assert tasks.start("k", slow) is task and calls == [1]  # done: a rerun does not redo it
    again = wait_until_ended(tasks.start("k", slow, retry=True, recompute=True))
    assert again is not task and again.recompute and not task.recompute
    assert calls == [1, 1] and tasks.get("k") is again


def test_a_day_of_tasks_and_trainings_is_forgotten_oldest_first(monkeypatch):
    from aecore.core.config import TrainConfig
    from aecore.services import jobs

    monkeypatch.setattr(jobs, "MAX_KEPT", 5)
    tasks = Tasks()
    failed = wait_until_ended(tasks.start("failed", lambda: 1 / 0))
    for i in range(12):
        wait_until_ended(tasks.start(f"k{i}", lambda: None))
    assert tasks.get("failed") is failed  # kept: forgotten, a page would start it again
    assert [k for k in (f"k{i}" for i in range(12)) if tasks.get(k)] == [
        f"k{i}" for i in range(6, 12)]  # the five newest ended, and the one started last

    monkeypatch.setattr(jobs, "KEPT_TRAININGS", 2)
    monkeypatch.setattr(jobs, "KEEP_SECONDS", 0.0)
    queue = jobs.TrainingQueue(trainer=lambda cfg, stop, device: iter(()))
    try:
        ids = []
        for k in range(2, 7):
            ids.append(queue.submit(TrainConfig(latent_dim=k)))
            deadline = time.monotonic() + 10
            while not queue.status(ids[-1]).finished and time.monotonic() < deadline:
                time.sleep(0.01)
        assert [queue.status(i) is not None for i in ids] == [False, False, True, True, True]
    finally:
        assert queue.close(timeout=10)


def linear_curve(n: int, limit: int = MAX_CURVE_POINTS) -> Curve:
    curve = Curve(limit)
    for step in range(n):
        curve.add(step, float(step))
    return curve


@pytest.mark.parametrize("n", [10, MAX_CURVE_POINTS + 1, 100_000])
def test_curve_stays_bounded_and_in_order(n):
    curve = linear_curve(n)
    # under the bound every point is kept; over it (by one at most, to halve an even count),
    # halving keeps at least half the bound
    assert min(n, MAX_CURVE_POINTS // 2) <= len(curve.values) <= MAX_CURVE_POINTS + 1
    assert len(curve.steps) == len(curve.values)
    assert curve.steps == sorted(curve.steps) and curve.values == curve.steps


# 2^12 points leave nothing pending, so the curve's mean must be the mean of every point added.
# An even limit once made each halving run on limit + 1 points and drop the newest one.
@pytest.mark.parametrize("limit", [999, MAX_CURVE_POINTS])
def test_curve_keeps_the_mean(limit):
    n = 4096
    curve = linear_curve(n, limit)
    assert statistics.fmean(curve.values) == pytest.approx((n - 1) / 2, abs=1e-9)
    assert statistics.fmean(curve.steps) == pytest.approx((n - 1) / 2, abs=1e-9)


def test_closing_tasks_joins_what_runs():
    tasks, release, ended = Tasks(), threading.Event(), []

    def slow():
        release.wait(timeout=10)
        ended.append(1)

    tasks.start("k", slow)
    assert not tasks.close(timeout=0.2)  # still running: said, not hidden
    refused = tasks.start("k2", slow)  # closed: nothing new starts
    assert refused.state == "failed" and "shutting down" in refused.error
    release.set()
    assert tasks.close(timeout=10) and ended == [1]  # the first close's thread, joined now


def queue_until_stopped() -> tuple:
    """A queue whose stand-in trainer runs until stopped (bounded), and the event set when
    a training has started."""
    from aecore.services.jobs import TrainingQueue

    started = threading.Event()

    def trainer(cfg, stop, device):
        started.set()
        stop.wait(timeout=30)
        yield from ()

    return TrainingQueue(trainer=trainer), started


def test_closing_the_queue_stops_the_running_job_and_cancels_the_rest():
    from aecore.core.config import TrainConfig
    from aecore.core.errors import AecoreError

    queue, started = queue_until_stopped()
    first = queue.submit(TrainConfig(latent_dim=4))
    second = queue.submit(TrainConfig(latent_dim=5))
    assert started.wait(timeout=10)
    waited = []  # what a sweep does: wait for its training to end, without polling
    waiter = threading.Thread(target=lambda: waited.append(queue.wait(first)), daemon=True)
    waiter.start()
    assert queue.close(timeout=10)
    waiter.join(timeout=10)
    assert [s.state for s in waited] == ["stopped"]
    assert queue.status(first).state == "stopped"
    assert queue.status(second).state == "cancelled"
    with pytest.raises(AecoreError, match="closed"):
        queue.submit(TrainConfig(latent_dim=6))


def test_only_who_started_a_training_can_stop_it():
    """B joining A's training (the same config) or holding its page's link could stop it:
    now B's Stop only lets go, and a queued job is dropped once nobody holds it."""
    from aecore.core.config import TrainConfig

    queue, started = queue_until_stopped()
    try:
        running = queue.submit(TrainConfig(latent_dim=4), owner="a")
        assert queue.submit(TrainConfig(latent_dim=4), owner="b") == running  # b joins
        queued = queue.submit(TrainConfig(latent_dim=5), owner="a")
        assert queue.submit(TrainConfig(latent_dim=5), owner="b") == queued
        assert started.wait(timeout=10)
        assert not queue.stop_as(running, "b") and not queue.stop_as(running, "")
        assert queue.owns(running, "a") and not queue.owns(running, "b")
        assert not queue.stop_as(queued, "a")  # b still wants it: it stays queued, now b's
        assert queue.status(queued).state == "queued" and queue.owns(queued, "b")
        assert not queue.owns(queued, "a")
        assert queue.stop_as(queued, "b") and queue.status(queued).state == "cancelled"
        time.sleep(0.2)
        assert queue.status(running).state == "running"  # b's Stop did not stop it
        assert queue.stop_as(running, "a")
        deadline = time.monotonic() + 10
        while queue.status(running).state == "running" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert queue.status(running).state == "stopped"
    finally:
        assert queue.close(timeout=10)
