"""Sweeps: the grid, local runs that reuse what is trained, the app's tracker, the CLI."""

import csv
import io
import json
import time

import pytest

from aecore import cli
from aecore.core.config import ProjectionConfig, TrainConfig
from aecore.core.errors import CacheWriteFailed, InvalidConfig
from aecore.runs import compare, pipeline, store
from aecore.services import sweep
from aecore.services.jobs import TrainingQueue


@pytest.fixture(autouse=True)
def pca_maps(monkeypatch):
    """Sweeps map with PCA here: UMAP's numba compile is kept out of unit tests."""
    monkeypatch.setattr(compare, "MAP", ProjectionConfig(method="pca"))


def test_spec_lists_each_config_once_in_order():
    spec = sweep.SweepSpec(models=("deep", "dense"), latent_dims=(8, 2, 8), epochs=3,
                           seeds=(1, 0))
    got = [(c.model, c.latent_dim, c.seed, c.epochs) for c in spec.configs()]
    assert got == [("deep", 2, 0, 3), ("deep", 2, 1, 3), ("deep", 8, 0, 3), ("deep", 8, 1, 3),
                   ("dense", 2, 0, 3), ("dense", 2, 1, 3), ("dense", 8, 0, 3),
                   ("dense", 8, 1, 3)]
    assert sweep.SweepSpec().configs()[-1].latent_dim == 128


@pytest.mark.parametrize("kwargs,needle", [
    (dict(models=()), "at least one of its models"),
    (dict(latent_dims=()), "latent sizes"),
    (dict(models=("resnet",)), "unknown model 'resnet'"),
    (dict(latent_dims=(1,)), "latent size"),
    (dict(latent_dims=(512,)), "latent size"),
    (dict(epochs=0), "epochs"),
    (dict(seeds=(-1,)), "seed"),
    (dict(dataset="cifar"), "dataset"),
    (dict(seeds=tuple(range(40))), "more than 200"),
])
def test_spec_refuses_bad_grids_with_a_sentence(kwargs, needle):
    with pytest.raises(InvalidConfig, match=needle):
        sweep.SweepSpec(**kwargs)


def test_parse_list_names_the_bad_text():
    assert sweep.parse_list(" 2, 4,,8 ", int) == (2, 4, 8)
    assert sweep.parse_list("dense,deep") == ("dense", "deep")
    with pytest.raises(InvalidConfig, match="'2,x'"):
        sweep.parse_list("2,x", int)


@pytest.mark.slow
def test_local_sweep_derives_everything_and_reuses_trained_runs(tiny):
    configs = sweep.SweepSpec(latent_dims=(2, 4), epochs=1).configs()
    steps = []
    outcomes = list(sweep.run_local(configs, "cpu", steps.append))
    assert [o.run_id for o in outcomes] == [c.key() for c in configs]
    assert len(steps) == len(configs) * (1 + len(sweep.DERIVED))
    assert all(sweep.derived_left(pipeline.summary(c.key())) == 0 for c in configs)
    rows = compare.report().rows
    # HDBSCAN may find no cluster in a 1-epoch run's collapsed 2-d codes: then no figure
    assert all(getattr(r, f) is not None for r in rows for f in compare.FIELDS
               if not f.startswith("cluster_"))
    assert rows[0].cluster_accuracy is not None  # the k=4 run (newest first)

    weights = {c: (store.run_dir(c.key()) / "weights.safetensors").stat().st_mtime_ns
               for c in configs}
    again = list(sweep.run_local(configs, "cpu"))
    assert [o.run_id for o in again] == [o.run_id for o in outcomes]
    assert weights == {c: (store.run_dir(c.key()) / "weights.safetensors").stat().st_mtime_ns
                       for c in configs}


@pytest.mark.slow
def test_a_failed_config_is_reported_and_the_others_land(tiny, monkeypatch):
    configs = sweep.SweepSpec(latent_dims=(2, 4, 6), epochs=1).configs()
    real = pipeline.classify

    def classify(run, cfg=None):
        if run.config.latent_dim == 4:
            raise CacheWriteFailed("the disk is full")
        return real(run, cfg)

    monkeypatch.setattr(pipeline, "classify", classify)
    outcomes = list(sweep.run_local(configs, "cpu"))
    assert [bool(o.run_id) for o in outcomes] == [True, False, True]
    assert outcomes[1].failure()["error"] == "the disk is full"
    assert outcomes[1].failure()["latent_dim"] == 4


def wait_until(predicate, seconds=120):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture
def queue(tiny):
    """A training queue on the tiny data, closed at the end: a stopped job's run never lands
    after this test's cache is gone."""
    q = TrainingQueue()
    yield q
    assert q.close(), "a training did not stop"


@pytest.mark.slow
def test_tracker_trains_through_the_queue_then_derives_and_counts(queue):
    first = TrainConfig(latent_dim=2, epochs=1)
    list(pipeline.train(first, device="cpu"))  # trained before: reused, not queued again
    tracker = sweep.Tracker(sweep.SweepSpec(latent_dims=(2, 4, 8), epochs=1), queue,
                            sweep.derive)
    assert first not in tracker.job_ids and len(tracker.job_ids) == 2
    assert {queue.status(j).origin for j in tracker.job_ids.values()} == {"sweep"}
    start = tracker.progress()
    assert start.runs_total == 3 and start.heads_left >= 4 and start.maps_left >= 2
    wait_until(lambda: tracker.finished)
    p = tracker.progress()
    assert (p.runs_done, p.derived_left, p.errors) == (3, 0, [])
    assert p.text() == "3 of 3 runs"
    assert {r.latent_dim for r in compare.report().rows if r.mlp_accuracy is not None} == \
        {2, 4, 8}


def test_cancel_drops_what_has_not_started(queue):
    blocker = queue.submit(TrainConfig(latent_dim=3, epochs=30))  # keeps the trainer busy
    tracker = sweep.Tracker(sweep.SweepSpec(latent_dims=(2, 4), epochs=1), queue,
                            sweep.derive)
    tracker.cancel()
    queue.stop(blocker)
    wait_until(lambda: tracker.finished)
    states = {queue.status(j).state for j in tracker.job_ids.values()}
    assert states == {"cancelled"}
    p = tracker.progress()
    assert p.cancelled and p.runs_done == 0 and p.text() == "0 of 2 runs, 4 heads left, " \
        "2 maps left"


@pytest.mark.slow
def test_cli_sweep_then_report_as_json_and_csv(tiny, capsys):
    code = cli.main(["sweep", "--latent-dims", "2,4", "--epochs", "1", "--device", "cpu",
                     "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["failed"] == []
    assert [(r["latent_dim"], r["complete"]) for r in out["rows"]] == [(2, True), (4, True)]
    assert all(v is not None for r in out["rows"] for k, v in r.items()
               if not k.startswith("cluster_"))

    assert cli.main(["report", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(r["run_id"] for r in report["rows"]) == sorted(r["run_id"]
                                                                  for r in out["rows"])
    assert cli.main(["report", "--csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(table[0]) == list(compare.FIELDS) and len(table) == 2
    assert cli.main(["report", "--dataset", "fashion"]) == 0
    assert "no runs yet" in capsys.readouterr().out


@pytest.mark.parametrize("args,needle", [
    (["--latent-dims", "2,x"], "'2,x'"),
    (["--models", "dense,resnet"], "unknown model"),
    (["--latent-dims", ""], "at least one"),
    (["--backend", "spark"], "invalid choice"),
])
def test_cli_sweep_refuses_bad_grids_in_one_line(args, needle, cache, capsys):
    try:
        code = cli.main(["sweep", *args])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0]


def test_cancel_leaves_a_training_another_session_queued(queue):
    blocker = queue.submit(TrainConfig(latent_dim=3, epochs=30))
    theirs = queue.submit(TrainConfig(latent_dim=4, epochs=1))  # a person's, queued first
    tracker = sweep.Tracker(sweep.SweepSpec(latent_dims=(4, 8), epochs=1), queue,
                            sweep.derive)
    assert tracker.job_ids[TrainConfig(latent_dim=4, epochs=1)] == theirs  # joined
    tracker.cancel()
    assert queue.status(theirs).state == "queued"
    assert queue.status(tracker.job_ids[TrainConfig(latent_dim=8, epochs=1)]).state == \
        "cancelled"
    queue.stop(blocker)
    wait_until(lambda: queue.status(theirs).finished)
    assert queue.status(theirs).state == "done"


def test_a_training_stopped_by_someone_is_reported_not_skipped(queue):
    blocker = queue.submit(TrainConfig(latent_dim=3, epochs=30))
    tracker = sweep.Tracker(sweep.SweepSpec(latent_dims=(2,), epochs=1), queue, sweep.derive)
    queue.stop(tracker.job_ids[TrainConfig(latent_dim=2, epochs=1)])
    queue.stop(blocker)
    wait_until(lambda: tracker.finished)
    [error] = tracker.progress().errors
    assert error.startswith("dense k=2 seed 0: cancelled")


@pytest.mark.parametrize("args,needle", [
    (["report", "--csv", "--json"], "choose one"),
    (["sweep", "--cpus-per-task", "0"], "number above 0"),
    (["sweep", "--cpus-per-task", "nan"], "number above 0"),
])
def test_cli_refuses_contradictions_in_one_line(args, needle, cache, capsys):
    try:
        code = cli.main(args)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0]


def test_a_ray_address_that_does_not_answer_is_one_sentence():
    import socket

    from aecore.core.errors import AecoreError
    from aecore.services.ray_backend import _check_address

    with socket.socket() as free:  # a port nobody listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pytest.raises(AecoreError, match=f"no Ray cluster answers at 127.0.0.1:{port}"):
        _check_address(f"127.0.0.1:{port}")
    _check_address("auto")  # left to Ray


def test_two_sweeps_share_a_training_until_both_cancel(queue):
    blocker = queue.submit(TrainConfig(latent_dim=3, epochs=30))
    spec = sweep.SweepSpec(latent_dims=(4,), epochs=1)
    first = sweep.Tracker(spec, queue, sweep.derive)
    second = sweep.Tracker(spec, queue, sweep.derive)
    [job] = set(first.job_ids.values()) | set(second.job_ids.values())  # joined, not doubled
    first.cancel()
    first.cancel()  # twice: still one hold given up
    assert queue.status(job).state == "queued"  # the second sweep still wants it
    second.cancel()
    assert queue.status(job).state == "cancelled"
    queue.stop(blocker)
