import errno
import json
import os
import threading
import time

import pytest

from aecore import FORMAT_VERSION
from aecore.core.errors import CacheWriteFailed, RunNotFound
from aecore.runs import store
from tests.guard import run_capped


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
from aecore.runs import store
log = Path(sys.argv[1])
def compute():
    with log.open("a") as fh:
        fh.write("computed\\n")
    time.sleep(1.0)
    return {"v.bin": b"42"}
files, cached = store.get_or_compute(Path(sys.argv[2]), compute)
print(cached, files["v.bin"].decode())
"""


@pytest.mark.slow
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


@pytest.mark.parametrize("manifest", [
    {"format": FORMAT_VERSION, "files": ["data.bin"]},
    {"format": FORMAT_VERSION, "files": []},
    {"format": FORMAT_VERSION, "files": "data.bin"},
    {"format": FORMAT_VERSION, "files": None},
    {"format": FORMAT_VERSION, "files": {"data.bin": 5}},
    {"format": FORMAT_VERSION, "files": {"data.bin": None}},
    ["data.bin"],
    "data.bin",
])
def test_odd_manifest_shape_is_corrupt(cache, manifest):
    folder = cache / "x" / "a"
    store.write_artefact(folder, {"data.bin": b"0123456789"})
    (folder / store.MANIFEST).write_text(json.dumps(manifest))
    assert store.read_artefact(folder) is None
    assert not folder.exists() and list(folder.parent.glob("a.corrupt-*"))


READ_IN_CHILD = ("import sys\nfrom pathlib import Path\nfrom aecore.runs import store",
                 "print(store.read_artefact(Path(sys.argv[1])))")


@pytest.mark.parametrize("victim", ["data.bin", store.MANIFEST])
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "symlink"])
def test_special_file_in_an_artefact_is_corrupt(cache, victim, kind):
    """A FIFO would block the reader, /dev/zero would fill memory; a symlink, even to the
    right bytes, could point anywhere. Each is refused unread, moved aside, recomputed."""
    folder = cache / "x" / "a"
    store.write_artefact(folder, {"data.bin": b"0123456789"})
    target = folder / victim
    copy = cache / "copy"
    copy.write_bytes(target.read_bytes())
    target.unlink()
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/zero" if kind == "dev-zero" else copy)
    proc = run_capped(*READ_IN_CHILD, str(folder))
    assert proc.stdout.strip() == "None", proc.stderr
    assert not os.path.lexists(folder) and list(folder.parent.glob("a.corrupt-*"))
    files, cached = store.get_or_compute(folder, lambda: {"data.bin": b"fresh"})
    assert files == {"data.bin": b"fresh"} and not cached


@pytest.mark.parametrize("fault", ["mkdir", "open"])
def test_read_only_cache_fails_to_lock_with_a_sentence(cache, monkeypatch, fault):
    # We run as root, so chmod would not stop the writes: the OS call fails here instead.
    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    if fault == "open":
        (cache / "locks").mkdir(parents=True)
    monkeypatch.setattr(os, fault, read_only)
    with pytest.raises(CacheWriteFailed, match="read-only.*AECORE_CACHE_DIR"):
        with store.lock("k"):
            pass


def test_file_in_place_of_the_lock_folder_fails_with_a_sentence(cache):
    cache.mkdir(exist_ok=True)
    (cache / "locks").write_bytes(b"")
    with pytest.raises(CacheWriteFailed, match="a file stands where a folder should be"):
        store.get_or_compute(cache / "k", lambda: {"v.bin": b"1"})


def test_errors_inside_a_lock_pass_unchanged_and_release_it(cache):
    with pytest.raises(OSError, match="mine"), store.lock("k"):
        raise OSError(errno.EROFS, "mine")
    with store.lock("k"):  # released: taking it again does not wait
        pass


def test_the_derived_generation_follows_runs_and_what_is_derived_from_them(tiny):
    """Compare keeps its table until this changes: a run trained, a head stored, a run removed."""
    from aecore.core.config import HeadConfig
    from aecore.runs import pipeline
    from tests.support import TINY, TINY_HEAD, train_tiny

    empty = store.derived_generation()
    run = train_tiny(TINY).run
    trained = store.derived_generation()
    assert trained != empty and store.derived_generation() == trained  # nothing new: the same
    pipeline.codes(run)  # the derived folder appears
    coded = store.derived_generation()
    assert coded != trained
    pipeline.classify(run, HeadConfig(head="linear", **TINY_HEAD))
    headed = store.derived_generation()
    assert headed != coded
    pipeline.remove_run(run.run_id)
    assert store.derived_generation() not in (headed, coded, trained)
