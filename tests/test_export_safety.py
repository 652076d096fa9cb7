"""`aecore export` never writes where it must not: not into the cache, not through a symlink or
onto a device, not twice to one file, not beside another export into the same folder; and
every refusal or OS error is one line on stderr with exit status 2.

Most tests stub the run and the slow steps (encoding, the report's map, the ONNX exporter) so
that what is under test, the targets and the writes, runs in milliseconds on real files."""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from aecore import cli
from aecore.export import writers
from aecore.runs import pipeline, store

RUN_ID = "0123456789ab"
LOCK = ".aecore-export.lock"  # the lock file export takes in each target folder
PAGE = "<!DOCTYPE html><p>the report</p>"
DIGITS = writers.TestDigits(
    images=torch.zeros(4, 28, 28, dtype=torch.uint8), labels=np.arange(4),
    label_names=[str(i) for i in range(10)], codes=np.ones((4, 3), np.float32),
    errors=np.zeros(4, np.float32), predictions=np.arange(4), head="linear", report=None)


@pytest.fixture
def stub(tmp_path, monkeypatch):
    """A private cache holding one run folder, and the export's slow steps stubbed. `work`
    lists the steps that ran: empty when a target was refused before any work."""
    cache = tmp_path / "cache"
    run_folder = cache / "runs" / RUN_ID
    run_folder.mkdir(parents=True)
    (run_folder / "metrics.json").write_text('{"test_loss": 0.1}')
    monkeypatch.setenv("AECORE_CACHE_DIR", str(cache))
    work: list[str] = []

    def digits(run, train_head=True):
        work.append("digits")
        return DIGITS

    def onnx(run, folder):
        work.append("onnx")
        writers._folder(folder)
        return [writers._write(folder / "encoder.onnx", b"enc"),
                writers._write(folder / "decoder.onnx", b"dec")]

    monkeypatch.setattr(pipeline, "load_run", lambda run_id: SimpleNamespace(run_id=RUN_ID))
    monkeypatch.setattr(writers, "test_digits", digits)
    monkeypatch.setattr(writers, "html", lambda run, digits=None, projection=None: PAGE)
    monkeypatch.setattr(writers, "require_onnx", lambda: None)
    monkeypatch.setattr(writers, "onnx", onnx)
    return SimpleNamespace(cache=cache, run_folder=run_folder, work=work, tmp=tmp_path)


def export_cli(capsys, *args: str) -> tuple[int, str]:
    """(exit status, stderr without the progress lines) of `aecore export RUN args...`."""
    code = cli.main(["export", RUN_ID, *args])
    err = [line for line in capsys.readouterr().err.splitlines()
           if not line.endswith(" ...")]
    return code, "\n".join(err)


def refused(code: int, err: str) -> bool:
    return code == 2 and err.count("\n") == 0 and err.startswith("aecore: error: ")


def temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# --- the cache --------------------------------------------------------------------------------

@pytest.mark.parametrize("flag, where", [
    ("--html", "runs/{run}/metrics.json"), ("--html", "runs/{run}/report.html"),
    ("--projector", "runs/{run}"), ("--onnx", "."), ("--projector", "exports/new")])
def test_a_target_inside_the_cache_is_refused(stub, capsys, flag, where):
    before = snapshot(stub.cache)
    code, err = export_cli(capsys, flag, str(stub.cache / where.format(run=RUN_ID)))
    assert refused(code, err) and "inside the cache" in err, err
    assert snapshot(stub.cache) == before and stub.work == []
    assert not (stub.cache / "exports").exists()


def test_a_target_inside_a_dataset_folder_is_refused(stub, capsys, monkeypatch):
    data = stub.tmp / "data" / "MNIST" / "raw"
    data.mkdir(parents=True)
    (data / "t10k-labels-idx1-ubyte").write_bytes(b"labels")
    monkeypatch.setenv("AECORE_DATA_DIR", str(stub.tmp / "data"))
    code, err = export_cli(capsys, "--html", str(data / "t10k-labels-idx1-ubyte"))
    assert refused(code, err) and "inside a dataset folder" in err, err
    assert (data / "t10k-labels-idx1-ubyte").read_bytes() == b"labels" and stub.work == []


def test_a_lock_file_left_read_only_by_another_user_does_not_refuse(stub, capsys):
    out = stub.tmp / "shared"
    out.mkdir()
    (out / LOCK).write_bytes(b"")
    (out / LOCK).chmod(0o444)  # another user's lock file: this user may only read it
    code, err = export_cli(capsys, "--html", str(out / "run.html"))
    assert code == 0, err


def test_a_symlink_into_the_cache_is_refused(stub, capsys):
    (stub.tmp / "link").symlink_to(stub.run_folder)
    before = snapshot(stub.cache)
    for args in (["--html", str(stub.tmp / "link" / "metrics.json")],
                 ["--projector", str(stub.tmp / "link")]):
        code, err = export_cli(capsys, *args)
        assert refused(code, err) and "inside the cache" in err, err
    assert snapshot(stub.cache) == before


@pytest.mark.slow
def test_a_real_run_survives_an_export_aimed_at_it(trained, capsys):
    """The bug as reported: --html onto a run's metrics.json exited 0 and broke the run."""
    folder = store.run_dir(trained.run_id)
    before = snapshot(folder)
    code = cli.main(["export", trained.run_id, "--html", str(folder / "metrics.json")])
    err = capsys.readouterr().err
    assert code == 2 and "inside the cache" in err
    assert snapshot(folder) == before
    assert pipeline.load_run(trained.run_id).metrics == trained.metrics


# --- symlinks, devices, temp files ------------------------------------------------------------

def test_a_planted_temp_symlink_is_not_followed(stub, capsys):
    out, victim = stub.tmp / "out", stub.tmp / "victim"
    out.mkdir()
    victim.write_text("precious")
    (out / ".run.html.part").symlink_to(victim)
    code, err = export_cli(capsys, "--html", str(out / "run.html"))
    assert code == 0, err
    assert victim.read_text() == "precious"
    assert (out / "run.html").read_text() == PAGE and not (out / "run.html").is_symlink()
    assert temp_files(out) == [".run.html.part"]  # the planted one, untouched; none of ours


@pytest.mark.parametrize("where", ["run.html", "bundle/tensors.tsv"])
def test_a_symlinked_target_is_refused(stub, capsys, where):
    victim = stub.tmp / "victim"
    victim.write_text("precious")
    link = stub.tmp / "out" / where
    link.parent.mkdir(parents=True)
    link.symlink_to(victim)
    flag, target = ("--html", link) if where == "run.html" else ("--projector", link.parent)
    code, err = export_cli(capsys, flag, str(target))
    assert refused(code, err) and "symlink" in err, err
    assert link.is_symlink() and victim.read_text() == "precious" and stub.work == []


def test_a_fifo_target_is_refused(stub, capsys):
    fifo = stub.tmp / "fifo"
    os.mkfifo(fifo)
    code, err = export_cli(capsys, "--html", str(fifo))
    assert refused(code, err) and "not a regular file" in err, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and stub.work == []


def test_a_device_is_refused_before_anything_is_written():
    # Checked without a write: as root, the old code replaced /dev/null itself.
    with pytest.raises(writers.ExportFailed, match="character device"):
        writers.check_targets(None, None, Path("/dev/null"))


@pytest.mark.parametrize("where", ["replace", "fsync", "write"])
def test_ctrl_c_inside_the_write_leaves_no_temp_file(stub, capsys, monkeypatch, where):
    out = stub.tmp / "out"
    out.mkdir()
    (out / "run.html").write_text("the old report")
    real = {"replace": os.replace, "fsync": os.fsync, "write": os.write}[where]

    def interrupt(*args):
        ours = {"replace": lambda: Path(args[1]).parent == out, "fsync": lambda: True,
                "write": lambda: bytes(args[1]) == PAGE.encode()}[where]()
        if not ours:  # another caller of os.replace or os.write: pytest, the logging
            return real(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(writers.os, where, interrupt)
    code = cli.main(["export", RUN_ID, "--html", str(out / "run.html")])
    monkeypatch.undo()
    assert code == 130 and "interrupted" in capsys.readouterr().err
    assert temp_files(out) == [] and (out / "run.html").read_text() == "the old report"


# --- every target checked first, and distinct -------------------------------------------------

def test_an_unwritable_folder_is_refused_before_any_work(stub, capsys, monkeypatch):
    locked = stub.tmp / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: deny as the kernel would deny a user
        access = os.access
        monkeypatch.setattr(writers.os, "access", lambda p, mode, **kw: Path(p) != locked
                            and access(p, mode, **kw))
    try:
        for target in (locked, locked / "bundle"):
            code, err = export_cli(capsys, "--onnx", str(stub.tmp / "o"), "--projector",
                                   str(target))
            assert refused(code, err) and str(locked) in err, err
    finally:
        locked.chmod(0o755)
    assert stub.work == [] and not (stub.tmp / "o").exists() and list(locked.iterdir()) == []


@pytest.mark.parametrize("a, b", [
    (("--projector", "t/S"), ("--html", "t/S/tensors.tsv")),
    (("--projector", "t/S"), ("--html", "t/./S/../S/projector_config.pbtxt")),
    (("--projector", "t/S"), ("--html", "t/S")),
    (("--projector", "t/S"), ("--onnx", "t/S")),
    (("--onnx", "t/O"), ("--html", "t/O/decoder.onnx")),
    (("--projector", "t/S"), ("--onnx", "t/S/metadata.tsv")),
    (("--projector", "t/S"), ("--html", "t/S/sprite.png/run.html")),
    (("--projector", "t/S"), ("--html", "t/S/.aecore-export.lock")),
])
def test_targets_that_collide_are_refused(stub, capsys, monkeypatch, a, b):
    monkeypatch.chdir(stub.tmp)
    code, err = export_cli(capsys, *a, *b)
    assert refused(code, err), err
    assert not (stub.tmp / "t").exists() and stub.work == []


def test_targets_that_share_a_folder_without_colliding_are_written(stub, capsys):
    out = stub.tmp / "out"
    code, err = export_cli(capsys, "--projector", str(out), "--onnx", str(out / "onnx"),
                           "--html", str(out / "run.html"))
    assert code == 0, err
    assert {p.name for p in out.iterdir()} >= {*writers.PROJECTOR_FILES, "onnx", "run.html"}
    assert temp_files(out) == [] and (out / "run.html").read_text() == PAGE


# --- one export per folder at a time ----------------------------------------------------------

def hold_lock(folder: Path) -> int:
    fd = os.open(folder / LOCK, os.O_WRONLY | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def test_a_second_export_into_a_busy_folder_fails_at_once(stub, capsys):
    out = stub.tmp / "out"
    out.mkdir()
    fd = hold_lock(out)  # another export, busy in out/
    try:
        for args in (["--projector", str(out)], ["--html", str(out / "run.html")]):
            code, err = export_cli(capsys, *args)
            assert refused(code, err) and f"another export is writing to {out}" in err, err
    finally:
        os.close(fd)
    assert stub.work == [] and [p.name for p in out.iterdir()] == [LOCK]
    code, err = export_cli(capsys, "--projector", str(out))  # free again
    assert code == 0, err


def test_the_lock_is_held_for_the_whole_export(stub, capsys, monkeypatch):
    out = stub.tmp / "out"
    held = []

    def digits(run, train_head=True):
        fd = os.open(out / LOCK, os.O_WRONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(True)
        finally:
            os.close(fd)
        return DIGITS

    monkeypatch.setattr(writers, "test_digits", digits)
    code, err = export_cli(capsys, "--projector", str(out))
    assert code == 0 and held == [True], err
    os.close(hold_lock(out))  # and released at the end


# --- OS errors are one line -------------------------------------------------------------------

def test_a_name_too_long_is_one_line(stub, capsys):
    out = stub.tmp / "out"
    out.mkdir()
    code, err = export_cli(capsys, "--html", str(out / ("x" * 255)))  # the longest legal name
    assert code == 0, err
    assert (out / ("x" * 255)).read_text() == PAGE and temp_files(out) == []
    stub.work.clear()
    for args in (["--html", str(out / ("y" * 256))], ["--projector", str(out / ("z" * 256))]):
        code, err = export_cli(capsys, *args)
        assert refused(code, err) and "File name too long" in err, err
    assert stub.work == []


def test_an_os_error_while_writing_is_one_line(stub, capsys, monkeypatch):
    out = stub.tmp / "out"

    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writers.os, "fsync", full)
    code, err = export_cli(capsys, "--projector", str(out))
    monkeypatch.undo()
    assert refused(code, err) and "No space left on device" in err, err
    assert temp_files(out) == [] and not (out / "tensors.tsv").exists()
