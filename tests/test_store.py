import threading
import time

import pytest

from aecore import store
from aecore.errors import RunNotFound


def test_round_trip_and_manifest(cache):
    folder = cache / "x" / "a"
    store.write_artefact(folder, {"one.json": b"{}", "two.bin": b"\x00\x01"})
    assert (folder / "manifest.json").is_file()
    assert store.read_artefact(folder) == {"one.json": b"{}", "two.bin": b"\x00\x01"}
    assert not list(folder.parent.glob(".tmp-*"))


def test_missing_manifest_is_not_a_result(cache):
    folder = cache / "x" / "half"
    folder.mkdir(parents=True)
    (folder / "one.json").write_bytes(b"{}")
    assert store.read_artefact(folder) is None


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_corrupt_artefact_is_moved_aside(cache, damage, caplog):
    folder = cache / "x" / "a"
    store.write_artefact(folder, {"data.bin": b"0123456789"})
    target = folder / "data.bin"
    if damage == "flip":
        target.write_bytes(b"0123456780")
    elif damage == "truncate":
        target.write_bytes(b"01234")
    else:
        target.unlink()
    assert store.read_artefact(folder) is None
    assert not folder.exists()
    assert list(folder.parent.glob("a.corrupt-*"))
    assert "moved aside" in caplog.text


def test_failed_write_leaves_nothing(cache):
    folder = cache / "x" / "a"
    with pytest.raises(TypeError):
        store.write_artefact(folder, {"ok.bin": b"1", "bad.bin": "not bytes"})
    assert not folder.exists()
    assert not list((cache / "x").iterdir())


def test_rewrite_replaces_old_content(cache):
    folder = cache / "x" / "a"
    store.write_artefact(folder, {"old.bin": b"1"})
    (folder / "derived").mkdir()
    store.write_artefact(folder, {"new.bin": b"2"})
    assert store.read_artefact(folder) == {"new.bin": b"2"}
    assert not (folder / "derived").exists()


def test_get_or_compute_computes_once_across_threads(cache):
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.2)
        return {"v.bin": b"42"}

    results = []
    threads = [threading.Thread(target=lambda: results.append(
        store.get_or_compute(cache / "k", compute))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert sorted(cached for _, cached in results) == [False, True, True, True]
    assert all(files == {"v.bin": b"42"} for files, _ in results)


@pytest.mark.parametrize("bad", ["../etc", "..", "abc", "6FAB52393735", "6fab52393735/..",
                                 "", "6fab5239373x"])
def test_run_ids_are_checked(cache, bad):
    with pytest.raises(RunNotFound, match="not a run id"):
        store.run_dir(bad)


def test_sweep_removes_only_stale_temp(cache):
    (cache / "runs").mkdir(parents=True)
    old = cache / "runs" / ".tmp-old"
    young = cache / "runs" / ".tmp-young"
    old.mkdir()
    young.mkdir()
    past = time.time() - 2 * store.STALE_TMP_SECONDS
    import os
    os.utime(old, (past, past))
    assert store.sweep_temp() == 1
    assert not old.exists() and young.exists()


COMPUTE_ONCE = """
import sys, time
from pathlib import Path
from aecore import store
log = Path(sys.argv[1])
def compute():
    with log.open("a") as fh:
        fh.write("computed\\n")
    time.sleep(1.0)
    return {"v.bin": b"42"}
files, cached = store.get_or_compute(Path(sys.argv[2]), compute)
print(cached, files["v.bin"].decode())
"""


def test_two_processes_compute_a_key_once(cache, tmp_path):
    import os
    import subprocess
    import sys

    log = tmp_path / "log.txt"
    env = {**os.environ, "AECORE_CACHE_DIR": str(cache)}
    procs = [subprocess.Popen([sys.executable, "-c", COMPUTE_ONCE, str(log), str(cache / "k")],
                              env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = sorted(p.communicate(timeout=120)[0].split() for p in procs)
    assert outputs == [["False", "42"], ["True", "42"]]
    assert log.read_text().count("computed") == 1


def test_a_failed_task_is_not_restarted_unless_asked():
    import time as _time

    from aecore.jobs import Tasks

    tasks, calls = Tasks(), []

    def boom():
        calls.append(1)
        raise OSError("no")

    task = tasks.start("k", boom)
    for _ in range(100):
        if task.state != "running":
            break
        _time.sleep(0.01)
    assert task.state == "failed" and "OSError" in task.error
    assert tasks.start("k", boom) is task and len(calls) == 1  # a page rerun: no restart
    again = tasks.start("k", boom, retry=True)
    assert again is not task
