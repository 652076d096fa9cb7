"""`aecore rm` and `aecore runs --size`: runs removed whole, under their lock, never through a
symlink; sizes that match an independent count."""

from __future__ import annotations

import json
import os
import stat
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from aecore import cli
from aecore.core.errors import CacheCorrupt, RunNotFound
from aecore.runs import pipeline, store
from tests.support import TINY, train_tiny

OTHER = replace(TINY, seed=1)


def walk_bytes(root: Path) -> int:
    """The sizes of the regular files under root, counted another way than store.folder_bytes."""
    total = 0
    for folder, _, files in os.walk(root):  # os.walk does not descend into linked folders
        for name in files:
            info = os.lstat(os.path.join(folder, name))
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
    return total


def call(capsys, *args) -> tuple[int, str, str]:
    try:
        code = cli.main(list(args))
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_remove_run_removes_that_run_and_keeps_the_other(tiny):
    gone, kept = train_tiny(TINY).run.run_id, train_tiny(OTHER).run.run_id
    pipeline.codes(pipeline.load_run(gone))  # a derived result goes with its run
    size = walk_bytes(store.run_dir(gone))
    quarantined = store.runs_dir() / f"{gone}.corrupt-123"
    quarantined.mkdir()
    (quarantined / "weights.safetensors").write_bytes(b"kept for inspection")

    assert pipeline.remove_run(gone) == size
    assert [r["run_id"] for r in pipeline.list_runs()] == [kept]
    assert not os.path.lexists(store.run_dir(gone))
    assert pipeline.load_run(kept).run_id == kept
    assert (quarantined / "weights.safetensors").read_bytes() == b"kept for inspection"
    assert not list(store.runs_dir().glob(f"{store.TMP_PREFIX}*"))  # nothing left behind
    with pytest.raises(RunNotFound):
        pipeline.remove_run(gone)


def test_rm_command_prints_what_it_removed(tiny, capsys):
    first, second = train_tiny(TINY).run.run_id, train_tiny(OTHER).run.run_id
    sizes = {r: walk_bytes(store.run_dir(r)) for r in (first, second)}
    code, out, err = call(capsys, "rm", first, first, "--json")  # an id twice: removed once
    assert (code, err) == (0, "")
    assert json.loads(out) == {"removed": [first], "bytes_freed": sizes[first]}
    code, out, _ = call(capsys, "rm", second)
    assert code == 0 and f"removed {second}" in out and "freed" in out
    assert pipeline.list_runs() == [] and not os.path.lexists(store.run_dir(second))


def test_a_reader_never_sees_half_a_run_and_a_killed_rm_is_swept(tiny, monkeypatch):
    run_id = train_tiny(TINY).run.run_id
    real_rmtree, seen = store.shutil.rmtree, []

    def killed(path, *args, **kwargs):  # rm killed while deleting: what does a reader see?
        seen.append((os.path.lexists(store.run_dir(run_id)), store.list_run_ids(),
                     Path(path).name))
        raise KeyboardInterrupt

    monkeypatch.setattr(store.shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        pipeline.remove_run(run_id)
    monkeypatch.setattr(store.shutil, "rmtree", real_rmtree)
    [(exists, listed, name)] = seen
    assert not exists and listed == [] and name.startswith(store.TMP_PREFIX)
    assert (store.runs_dir() / name).is_dir()
    assert store.sweep_temp(older_than=0) >= 1
    assert not (store.runs_dir() / name).exists()


def test_sizes_match_an_independent_count_and_grow(tiny, capsys, tmp_path):
    run = train_tiny(TINY).run
    outside = tmp_path / "elsewhere.bin"
    outside.write_bytes(b"x" * 100_000)
    (store.run_dir(run.run_id) / "link-to-elsewhere").symlink_to(outside)  # never counted
    (store.cache_dir() / "data").mkdir()
    (store.cache_dir() / "data" / "linked").symlink_to(tmp_path, target_is_directory=True)

    def sizes() -> tuple[int, int]:
        code, out, _ = call(capsys, "runs", "--size", "--json")
        assert code == 0
        result = json.loads(out)
        [row] = result["runs"]
        assert row["run_id"] == run.run_id
        assert row["bytes"] == walk_bytes(store.run_dir(run.run_id))
        assert result["cache_bytes"] == walk_bytes(store.cache_dir())
        assert store.folder_bytes(store.run_dir(run.run_id)) == row["bytes"]
        assert store.cache_bytes() == result["cache_bytes"]
        return row["bytes"], result["cache_bytes"]

    run_before, cache_before = sizes()
    assert 0 < run_before < cache_before  # the cache also holds the canvas digits
    pipeline.codes(run)  # a derived result: the codes, in the run's folder
    run_after, cache_after = sizes()
    added = walk_bytes(run.derived_dir / "latents")
    assert added > 0
    assert (run_after, cache_after) == (run_before + added, cache_before + added)

    code, out, _ = call(capsys, "runs", "--size")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2 and run.run_id in lines[0]
    assert "the whole cache" in lines[1]


def test_folder_bytes_never_follows_links_and_is_quick(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (target / "big").write_bytes(b"x" * 50_000)
    assert store.folder_bytes(target) == 50_000
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    assert store.folder_bytes(link) == 0
    assert store.folder_bytes(tmp_path / "missing") == 0
    assert store.folder_bytes(target / "big") == 50_000

    cache = tmp_path / "cache"  # 200 runs of 10 files each, three folders deep
    for i in range(200):
        derived = cache / "runs" / f"{i:012x}" / "derived-abc" / "latents"
        derived.mkdir(parents=True)
        for j in range(5):
            (derived.parent.parent / f"f{j}").write_bytes(b"r" * j)
            (derived / f"g{j}").write_bytes(b"d" * j)
    counted = store.folder_bytes(cache)  # its speed: aecore-bench's runs_listing_ms_200
    assert counted == walk_bytes(cache) == 200 * 2 * (0 + 1 + 2 + 3 + 4)


@pytest.mark.parametrize("bad", ["0123456789ab", "../../etc", "0123456789AB", "abc"])
def test_an_unknown_or_malformed_id_removes_nothing(tiny, capsys, bad):
    first, second = train_tiny(TINY).run.run_id, train_tiny(OTHER).run.run_id
    code, out, err = call(capsys, "rm", first, bad, second)  # good ids on both sides
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aecore: error:"), err
    assert "nothing was removed" in lines[0]
    assert {r["run_id"] for r in pipeline.list_runs()} == {first, second}
    with pytest.raises(RunNotFound):
        pipeline.remove_run(bad)


def test_a_symlinked_run_folder_is_refused(tiny, capsys, tmp_path):
    real = train_tiny(TINY).run.run_id
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "weights.safetensors").write_bytes(b"not the cache's")
    linked = store.run_dir("abcdef012345")
    linked.symlink_to(elsewhere, target_is_directory=True)

    code, out, err = call(capsys, "rm", real, "abcdef012345")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "symbolic link" in err and "nothing was removed" in err
    with pytest.raises(CacheCorrupt):
        pipeline.remove_run("abcdef012345")
    assert linked.is_symlink() and (elsewhere / "weights.safetensors").exists()
    assert [r["run_id"] for r in pipeline.list_runs()] == [real]

    # A symlink inside a run is removed as a link: its target stays.
    (store.run_dir(real) / "escape").symlink_to(elsewhere, target_is_directory=True)
    pipeline.remove_run(real)
    assert not os.path.lexists(store.run_dir(real))
    assert (elsewhere / "weights.safetensors").read_bytes() == b"not the cache's"


def test_removal_waits_for_the_runs_lock(tiny):
    run_id = train_tiny(TINY).run.run_id
    freed = []
    remover = threading.Thread(target=lambda: freed.append(pipeline.remove_run(run_id)))
    with store.lock(f"run-{run_id}"):  # as a training of this config holds it
        remover.start()
        remover.join(0.5)
        assert remover.is_alive() and freed == []
        assert pipeline.load_run(run_id).run_id == run_id
    remover.join(10)
    assert not remover.is_alive() and freed and freed[0] > 0
    assert not os.path.lexists(store.run_dir(run_id))
