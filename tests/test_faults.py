"""Fault injection: each fault gets a clear typed error, and nothing saved is lost."""

import contextlib
import errno
import json
import os

import pytest
import torch

from aecore.core.config import TrainConfig
from aecore.core.errors import CacheWriteFailed, DatasetCorrupt, OutOfMemory, RunNotFound
from aecore.data import idx
from aecore.models.base import Autoencoder
from aecore.runs import pipeline, store
from tests.support import train_tiny as finish


@contextlib.contextmanager
def failing_writes(code: int, after: int = 0):
    """Every file write after the first `after` ones fails with OSError(code)."""
    real = store._write_synced
    calls = {"n": 0}

    def write(path, blob):
        calls["n"] += 1
        if calls["n"] > after:
            raise OSError(code, os.strerror(code))
        real(path, blob)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(store, "_write_synced", write)
        yield


@pytest.mark.parametrize("code,needle", [(errno.ENOSPC, "disk is full"),
                                         (errno.EROFS, "read-only"),
                                         (errno.EACCES, "not writable")])
def test_failed_save_says_why_and_keeps_the_old_run(tiny, monkeypatch, code, needle):
    old = finish().run
    with failing_writes(code, after=2), pytest.raises(CacheWriteFailed, match=needle):
        finish(force=True)  # fails midway through the new run's files
    kept = pipeline.load_run(old.run_id)  # the old run is intact and still verifies
    assert kept.metrics == old.metrics
    assert not list(store.runs_dir().glob(".tmp-*"))


def test_full_disk_on_first_save_leaves_no_run(tiny, monkeypatch):
    with failing_writes(errno.ENOSPC), pytest.raises(CacheWriteFailed):
        finish()
    assert pipeline.list_runs() == []


def test_out_of_memory_is_typed(tiny, monkeypatch):
    def oom(self, x, *args):
        raise MemoryError

    monkeypatch.setattr(Autoencoder, "loss", oom)
    with pytest.raises(OutOfMemory, match="smaller batch"):
        finish()
    assert pipeline.list_runs() == []


def test_corrupt_weights_are_moved_aside_and_retrained(tiny, caplog):
    run = finish().run
    weights = store.run_dir(run.run_id) / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(RunNotFound):
        pipeline.load_run(run.run_id)
    assert "moved aside" in caplog.text
    assert list(store.runs_dir().glob(f"{run.run_id}.corrupt-*"))
    again = finish()
    assert not again.cached  # recomputed
    assert pipeline.load_run(run.run_id).run_id == run.run_id


def test_corrupt_codes_are_recomputed(tiny, caplog):
    run = finish().run
    first = pipeline.codes(run)[1].clone()
    codes_file = run.derived_dir / "latents" / "codes.safetensors"
    blob = bytearray(codes_file.read_bytes())
    blob[-10] ^= 0xFF
    codes_file.write_bytes(bytes(blob))
    second = pipeline.codes(run)[1]
    assert "moved aside" in caplog.text
    assert (first == second).all()


def test_older_format_is_ignored_not_misread(tiny):
    run = finish().run
    manifest = store.run_dir(run.run_id) / store.MANIFEST
    data_ = json.loads(manifest.read_text())
    data_["format"] = 0
    manifest.write_text(json.dumps(data_))
    assert pipeline.list_runs() == []
    assert manifest.exists()  # left in place, not moved or deleted


def test_manifest_cannot_point_outside_its_folder(cache):
    folder = cache / "x" / "a"
    store.write_artefact(folder, {"a.bin": b"1"})
    (cache / "x" / "secret").write_bytes(b"s")
    manifest = folder / store.MANIFEST
    data_ = json.loads(manifest.read_text())
    data_["files"] = {"../secret": store._sha256(b"s")}
    manifest.write_text(json.dumps(data_))
    assert store.read_artefact(folder) is None


def test_idx_with_wrong_magic_number_is_refused(tmp_path):
    md5, size = idx.SOURCES["mnist"].files["t10k-images-idx3-ubyte"]
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x08\x04" + b"\x00" * (size - 4))  # magic 2052, not 2051
    with pytest.raises(DatasetCorrupt, match="md5"):
        idx.check_file(path, md5, size)


def test_a_batch_larger_than_the_data_is_the_whole_split(tiny):
    """A small added dataset under the default batch of 128: one step an epoch, of all of it."""
    run = finish(TrainConfig(latent_dim=8, epochs=2, batch_size=5000)).run
    assert len(run.history.batch_loss) == 2 and run.metrics["epochs_done"] == 2


def test_manifest_with_a_list_of_files_is_moved_aside(tiny, caplog, capsys):
    from aecore import cli

    run = finish().run
    manifest = store.run_dir(run.run_id) / store.MANIFEST
    data_ = json.loads(manifest.read_text())
    data_["files"] = sorted(data_["files"])
    manifest.write_text(json.dumps(data_))
    assert cli.main(["runs", "--json"]) == 0  # `aecore runs` and the pages list runs this way
    assert json.loads(capsys.readouterr().out) == {"runs": []}
    assert store.run_dir(run.run_id).is_dir()  # listing moves nothing: loading does
    with pytest.raises(RunNotFound, match="moved aside"):
        pipeline.load_run(run.run_id)
    assert "moved aside" in caplog.text
    assert list(store.runs_dir().glob(f"{run.run_id}.corrupt-*"))
    assert not finish().cached  # recomputed


def rewrite(folder, name: str, blob: bytes | None) -> None:
    """Replace (or with None, remove) one file of an artefact and update its manifest, as a
    person editing a run by hand would."""
    manifest = folder / store.MANIFEST
    listed = json.loads(manifest.read_text())
    if blob is None:
        (folder / name).unlink()
    else:
        (folder / name).write_bytes(blob)
        listed["files"][name] = store._sha256(blob)
    manifest.write_text(json.dumps(listed))


def test_a_metric_that_is_not_a_number_reads_as_unknown(tiny, capsys):
    from aecore import cli
    from aecore.export import report

    run = finish().run
    folder = store.run_dir(run.run_id)
    edited = {**run.metrics, "test_loss": "0.2578", "seconds_per_epoch": [1], "device": "**x**"}
    rewrite(folder, "metrics.json", json.dumps(edited).encode())
    [row] = pipeline.list_runs()
    assert row["metrics"]["test_loss"] is None and row["metrics"]["device"] is None
    assert row["metrics"]["train_loss"] == run.metrics["train_loss"]  # what reads is kept
    assert cli.main(["runs"]) == 0
    assert f"{run.run_id}" in (out := capsys.readouterr().out) and "test BCE unknown" in out
    loaded = pipeline.load_run(run.run_id)
    assert report._metrics(loaded)["test BCE"] == "unknown"
    assert folder.is_dir() and not list(store.runs_dir().glob("*.corrupt-*"))


@pytest.mark.parametrize("name,blob", [("metrics.json", None), ("metrics.json", b"[1, 2]"),
                                       ("history.json", b'{"epochs": "x"}')])
def test_a_run_without_readable_metrics_or_history_is_listed_and_loads(tiny, name, blob):
    run = finish().run
    rewrite(store.run_dir(run.run_id), name, blob)
    [row] = pipeline.list_runs()
    assert row["run_id"] == run.run_id
    loaded = pipeline.load_run(run.run_id)
    assert loaded.weights_id == run.weights_id  # the weights are what make it a run
    if name == "metrics.json":
        assert row["metrics"]["test_loss"] is None and loaded.metrics["test_loss"] is None
    else:
        assert loaded.history.epochs == [] and loaded.metrics == run.metrics
    assert not list(store.runs_dir().glob("*.corrupt-*"))


def test_a_config_that_is_a_list_is_left_in_place(tiny):
    run = finish().run
    folder = store.run_dir(run.run_id)
    rewrite(folder, "config.json", b"[1, 2, 3]")
    assert pipeline.list_runs() == []  # it cannot be shown as a run ...
    with pytest.raises(RunNotFound, match="config.json does not read"):
        pipeline.load_run(run.run_id)
    assert folder.is_dir() and not list(store.runs_dir().glob("*.corrupt-*"))  # ... nor moved


@pytest.mark.parametrize("name,blob", [
    ("metrics.json", b'{"test_loss": 1' + b"0" * 400 + b', "kl": NaN}'),  # too large for a float
    ("metrics.json", b"[" * 100_000 + b"]" * 100_000),  # nested past Python's recursion limit
    ("history.json", b'{"batch_loss": [1' + b"0" * 400 + b'], "epochs": []}'),
])
def test_numbers_too_large_or_too_deep_read_as_unknown(tiny, capsys, name, blob):
    from aecore import cli

    run = finish().run
    rewrite(store.run_dir(run.run_id), name, blob)
    [row] = pipeline.list_runs()
    loaded = pipeline.load_run(run.run_id)
    assert cli.main(["runs", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(c))
    assert listed["runs"][0]["run_id"] == run.run_id  # strict JSON: no NaN, no Infinity
    if name == "metrics.json":
        assert row["metrics"]["test_loss"] is None and loaded.metrics["test_loss"] is None
    else:
        assert loaded.history.batch_loss == []


def test_a_config_edited_to_another_run_is_left_in_place(tiny):
    run = finish().run
    folder = store.run_dir(run.run_id)
    edited = {**run.config.to_dict(), "latent_dim": 16}
    rewrite(folder, "config.json", json.dumps(edited).encode())
    with pytest.raises(RunNotFound, match="describes another run"):
        pipeline.load_run(run.run_id)
    assert folder.is_dir() and not list(store.runs_dir().glob("*.corrupt-*"))
    # nor listed as a k=16 run under the k=8 run's id (Compare, the sidebar, `aecore runs`)
    assert pipeline.summary(run.run_id) is None


def test_a_derived_number_that_is_text_is_recomputed(tiny, caplog):
    """A head's accuracy or a map's 2-D accuracy as text once crashed Explore, Classifier
    and `aecore export`: such a result is moved aside and computed again."""
    from aecore.core.config import HeadConfig, ProjectionConfig
    from tests.support import TINY_HEAD

    run = finish().run
    head_cfg, map_cfg = HeadConfig(head="linear", **TINY_HEAD), ProjectionConfig("pca")
    first = pipeline.classify(run, head_cfg).report["test_accuracy"]
    pipeline.embed(run, map_cfg)
    head, fitted = pipeline.head_folder(run, head_cfg), pipeline.map_folder(run, map_cfg)
    report = json.loads((head / "report.json").read_text())
    rewrite(head, "report.json", json.dumps({**report, "test_accuracy": "0.97"}).encode())
    meta = json.loads((fitted / "meta.json").read_text())
    rewrite(fitted, "meta.json", json.dumps({**meta, "knn_accuracy_2d": "0.8"}).encode())
    assert not pipeline.is_valid(head) and not pipeline.is_valid(fitted)  # what a page asks first
    assert "moved aside" in caplog.text
    again = pipeline.classify(run, head_cfg)
    assert not again.cached and again.report["test_accuracy"] == first
    assert isinstance(pipeline.embed(run, map_cfg).knn_accuracy_2d, float)


def test_a_derived_folder_planted_as_a_symlink_is_neither_read_nor_written(tiny, tmp_path):
    """runs/<id>/derived-* pointing outside the cache: the codes are not read from there, the
    new ones are not written there; the link is moved aside, and what it points to is left."""
    import shutil

    run = finish().run
    first = pipeline.codes(run)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(run.derived_dir, elsewhere)
    before = sorted(p.name for p in elsewhere.rglob("*"))
    run.derived_dir.symlink_to(elsewhere, target_is_directory=True)
    again = pipeline.codes(run)  # computed again, in a folder of its own
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert run.derived_dir.is_dir() and not run.derived_dir.is_symlink()
    assert [p for p in run.derived_dir.parent.iterdir() if ".corrupt-" in p.name
            and p.is_symlink()], "the link was not moved aside"
    assert sorted(p.name for p in elsewhere.rglob("*")) == before
