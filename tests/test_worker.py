"""The worker process: training and maps out of the server's process, stops, and deaths."""

import contextlib
import signal
import threading
import time

import pytest

from aecore.core.config import ProjectionConfig, TrainConfig
from aecore.core.errors import WorkerDied
from aecore.runs import pipeline
from aecore.services.worker import Worker
from aecore.training.loop import BatchEvent, EpochEvent
from tests.support import TINY, TINY_HEAD, TINY_WORKER


@pytest.fixture
def worker(tiny):
    w = Worker(command=TINY_WORKER)
    yield w
    w.close()


def test_trains_in_another_process(worker):
    events = list(worker.train(TINY, device="cpu"))
    assert any(isinstance(e, BatchEvent) for e in events)
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert [e.epoch for e in epochs] == [1, 2, 3]
    ready = events[-1]
    assert isinstance(ready, pipeline.RunReady) and not ready.cached
    assert ready.run.run_id == TINY.key()
    assert worker._proc.pid != __import__("os").getpid()
    # the same worker serves the next request; a cached run comes back at once
    again = list(worker.train(TINY, device="cpu"))
    assert len(again) == 1 and again[0].cached


@pytest.mark.slow
def test_embed_in_another_process(worker):
    run = list(worker.train(TINY, device="cpu"))[-1].run
    result = worker.embed(run, ProjectionConfig(method="pca"))
    assert result.cached  # fitted and stored by the child, read back here
    assert result.map.embedding.shape == (200, 2)


@pytest.mark.slow
def test_maps_over_training_and_of_all_digits_in_another_process(worker):
    from aecore.runs import mapping

    run = list(worker.train(TINY, device="cpu"))[-1].run
    pca = ProjectionConfig(method="pca")
    frames = worker.derive("embed_over_training", run, pca)
    assert frames.cached and frames.embeddings.shape[1:] == (200, 2)
    assert worker.derive("embed_all", run, pca).map.embedding.shape == (800, 2)
    assert worker.derive("map_trust", run, pca).kept.shape == (200,)
    assert mapping.training_folder(run, pca).is_dir()


@pytest.mark.slow
def test_classify_in_another_process(worker):
    from aecore.core.config import HeadConfig

    run = list(worker.train(TINY, device="cpu"))[-1].run
    result = worker.classify(run, HeadConfig(head="linear", **TINY_HEAD))
    assert result.cached and result.report["test_accuracy"] > 0.5  # ten bars, chance 0.1
    assert set(result.report["baselines"]) == {"pixels", "pca"}


def test_stop_reaches_the_child(worker):
    stop = threading.Event()
    long = TrainConfig(latent_dim=8, epochs=200, batch_size=32, lr=3e-2)
    seen = []
    for event in worker.train(long, stop=stop, device="cpu"):
        seen.append(event)
        if isinstance(event, EpochEvent):
            stop.set()
    assert isinstance(seen[-1], pipeline.RunReady)
    assert seen[-1].run.metrics["stopped"] and seen[-1].run.metrics["epochs_done"] < 200


@pytest.mark.slow
def test_a_killed_worker_is_reported_and_replaced(worker):
    long = TrainConfig(latent_dim=8, epochs=500, batch_size=32, lr=3e-2)
    with pytest.raises(WorkerDied, match="exit code"):
        for event in worker.train(long, device="cpu"):
            if isinstance(event, BatchEvent):
                worker._proc.send_signal(signal.SIGKILL)
    assert pipeline.list_runs() == []  # nothing half-written is listed
    for _ in range(100):
        if worker._proc.poll() is not None:
            break
        time.sleep(0.05)
    events = list(worker.train(TINY, device="cpu"))  # a new process takes over
    assert isinstance(events[-1], pipeline.RunReady)


@pytest.mark.slow
def test_what_a_page_waits_on_goes_before_the_maps_asked_ahead(worker):
    """While a training holds the worker, two maps are asked ahead of need (as when a
    training ends), then a head that a page waits on: the head goes first. Then a page waits
    on the second map, which overtakes the first."""
    from aecore.core.config import HeadConfig
    from dashboard import background

    run = list(worker.train(TINY, device="cpu"))[-1].run
    jobs = [background.map_job(run, ProjectionConfig(method="pca"), worker, ahead=True),
            background.map_job(run, ProjectionConfig(method="pca", n_neighbors=5), worker,
                               ahead=True),
            background.head_job(run, HeadConfig(head="linear", epochs=2), worker)]
    served, threads, stop = [], [], threading.Event()
    turn = worker._turns.turn

    @contextlib.contextmanager
    def served_in_turn(name="", urgent=True):  # the order of turns, not of the threads' ends
        with turn(name, urgent):
            served.append(name)
            yield

    worker._turns.turn = served_in_turn

    long = TrainConfig(latent_dim=8, epochs=200, batch_size=32, lr=3e-2)
    for event in worker.train(long, stop=stop, device="cpu"):
        if isinstance(event, BatchEvent) and not threads:
            for job in jobs:
                threads.append(threading.Thread(target=job.fit, daemon=True))
                threads[-1].start()
                for _ in range(1000):  # they line up in this order
                    if job.key in worker._turns.waiting():
                        break
                    time.sleep(0.01)
            first, second, head = (job.key for job in jobs)
            assert worker._turns.waiting() == [head, first, second]
            jobs[1].hurry()
            assert worker._turns.waiting() == [head, second, first]
            stop.set()
    for t in threads:
        t.join(300)
    assert not any(t.is_alive() for t in threads)
    assert [name for name in served if name] == [head, second, first]
