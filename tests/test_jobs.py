"""Background work without the app: keyed tasks and the bounded loss curve (aecore.jobs)."""

import statistics
import threading
import time

import pytest

from aecore.jobs import MAX_CURVE_POINTS, Curve, Task, Tasks


def wait_until_ended(task: Task, timeout: float = 10.0) -> Task:
    deadline = time.monotonic() + timeout
    while task.state == "running" and time.monotonic() < deadline:
        time.sleep(0.01)
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


def test_a_task_runs_once_per_key_and_keeps_its_result():
    tasks, release = Tasks(), threading.Event()

    def slow():
        release.wait(timeout=10)
        return 42

    task = tasks.start("k", slow)
    assert tasks.start("k", slow, retry=True) is task  # running: never doubled
    release.set()
    assert wait_until_ended(task).state == "done" and task.result == 42
    assert tasks.start("k", slow) is task  # done: a page rerun does not compute it again
    again = wait_until_ended(tasks.start("k", slow, retry=True, recompute=True))
    assert again is not task and again.recompute and not task.recompute
    assert again.result == 42 and tasks.get("k") is again


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


def test_closing_the_queue_stops_the_running_job_and_cancels_the_rest():
    from aecore.config import TrainConfig
    from aecore.errors import AecoreError
    from aecore.jobs import TrainingQueue

    started = threading.Event()

    def trainer(cfg, stop, device):  # a stand-in trainer: runs until stopped (bounded)
        started.set()
        stop.wait(timeout=30)
        yield from ()

    queue = TrainingQueue(trainer=trainer)
    first = queue.submit(TrainConfig(latent_dim=4))
    second = queue.submit(TrainConfig(latent_dim=5))
    assert started.wait(timeout=10)
    assert queue.close(timeout=10)
    assert queue.status(first).state == "stopped"
    assert queue.status(second).state == "cancelled"
    with pytest.raises(AecoreError, match="closed"):
        queue.submit(TrainConfig(latent_dim=6))
