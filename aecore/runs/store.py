"""The cache on disk: artefact folders written atomically, verified on read, computed once.

An artefact is a folder of files plus manifest.json (sha256 of each file), written last:
a folder without its manifest is not a result. A folder is built under a temp name and
renamed into place, so readers never see half of one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock

from aecore import FORMAT_VERSION
from aecore.core.errors import CacheCorrupt, CacheWriteFailed, RunNotFound, StaleFormat
from aecore.core.paths import cache_dir

if TYPE_CHECKING:  # torch is imported where tensors are: listing and removing runs need none
    import torch

log = logging.getLogger("aecore")
MANIFEST = "manifest.json"
TMP_PREFIX = ".tmp-"
STALE_TMP_SECONDS = 3600
_RUN_ID = re.compile(r"[0-9a-f]{12}")

Files = dict[str, bytes]


def runs_dir() -> Path:
    return cache_dir() / "runs"


def is_run_id(text) -> bool:
    return isinstance(text, str) and _RUN_ID.fullmatch(text) is not None


def run_dir(run_id: str) -> Path:
    """The folder of a run; the id is checked first, so nothing can point outside the cache."""
    if not is_run_id(run_id):
        raise RunNotFound(f"{run_id!r} is not a run id (12 hex characters; see `aecore runs`)")
    return runs_dir() / run_id


# --- encoding helpers -------------------------------------------------------------------------

def json_bytes(obj) -> bytes:
    return json.dumps(obj, indent=1, sort_keys=True).encode()


def tensor_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    from safetensors.torch import save as save_tensors_bytes

    return save_tensors_bytes({k: v.detach().cpu().contiguous() for k, v in tensors.items()})


def parse_json(files: Files, name: str, folder: Path):
    try:
        return json.loads(files[name])
    except (KeyError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: "[" nested 200,000 deep
        raise CacheCorrupt(f"{folder / name} is not valid JSON") from exc


def parse_tensors(files: Files, name: str, folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load as load_tensors_bytes

    try:
        return load_tensors_bytes(files[name])
    except Exception as exc:  # safetensors raises its own SafetensorError and others
        raise CacheCorrupt(f"{folder / name} is not a valid safetensors file") from exc


# --- writing and reading ----------------------------------------------------------------------

def _sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def _write_synced(path: Path, blob: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(blob)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_artefact(folder: Path, files: Files) -> None:
    """Write files into a temp sibling, manifest last, then rename it to `folder`.

    An existing folder is replaced (retraining with --force); its old content is removed.
    A failed write (disk full, read-only folder) raises CacheWriteFailed and leaves the cache
    as it was.
    """
    _move_links_aside(folder)
    try:
        _write_artefact(folder, files)
    except OSError as exc:
        raise write_failed(f"save {folder.name} in {folder.parent}", exc) from exc


def write_failed(action: str, exc: OSError) -> CacheWriteFailed:
    """The one sentence for every failed cache write: what went wrong and what to do."""
    why = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
           errno.EROFS: "the cache folder is read-only",
           errno.EACCES: "the cache folder is not writable",
           errno.EEXIST: "a file stands where a folder should be",
           errno.ENOTDIR: "a file stands where a folder should be"}.get(exc.errno, exc.strerror)
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    advice = "free some space or " if full else ""
    return CacheWriteFailed(f"could not {action}: {why}; nothing was changed ({advice}set "
                            "AECORE_CACHE_DIR to a writable folder)")


def _write_artefact(folder: Path, files: Files) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f"{TMP_PREFIX}{folder.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for name, blob in files.items():
            _write_synced(tmp / name, blob)
        manifest = {"format": FORMAT_VERSION, "files": {n: _sha256(b) for n, b in files.items()}}
        _write_synced(tmp / MANIFEST, json_bytes(manifest))
        _fsync_dir(tmp)
        old = None
        if folder.exists():
            old = folder.parent / f"{TMP_PREFIX}old-{folder.name}-{uuid.uuid4().hex[:8]}"
            folder.rename(old)
        tmp.rename(folder)
        _fsync_dir(folder.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _read_regular(path: Path) -> bytes:
    """The bytes of a regular file, never more than its size. A symlink (OSError), FIFO,
    device or folder (CacheCorrupt) is refused without blocking: whatever was put in a cache
    folder, reading it must not hang or exhaust memory."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CacheCorrupt(f"{path} is not a regular file")
        with open(fd, "rb", closefd=False) as fh:
            return fh.read(info.st_size)
    finally:
        os.close(fd)


def listed_digest(folder: Path, name: str) -> str | None:
    """The sha256 that a complete artefact's manifest lists for one of its files, without
    reading or checking the files themselves (cheap: for cache keys); None if there is none."""
    try:
        digest = json.loads(_read_regular(folder / MANIFEST))["files"][name]
    except (OSError, ValueError, KeyError, TypeError, RecursionError, CacheCorrupt):
        return None
    return digest if isinstance(digest, str) else None


def read_checked(folder: Path, names: tuple[str, ...]) -> tuple[dict, Files] | None:
    """(the manifest's name -> sha256, those of `names` that match it): a missing or altered
    file is left out; None without a readable manifest. Cheap, for listing runs: nothing is
    moved aside."""
    try:
        manifest = json.loads(_read_regular(folder / MANIFEST))
        listed = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError, CacheCorrupt):
        return None
    if manifest.get("format") != FORMAT_VERSION or not isinstance(listed, dict):
        return None
    files = {}
    for name in names:
        with contextlib.suppress(OSError, CacheCorrupt):
            blob = _read_regular(folder / name)
            if _sha256(blob) == listed.get(name):
                files[name] = blob
    return listed, files


def runs_generation() -> int:
    """Changes whenever a run is written, replaced, moved aside or removed (each renames a
    folder in runs/): a listing cached under it is never stale for long."""
    try:
        return os.stat(runs_dir()).st_mtime_ns
    except OSError:
        return 0


def derived_generation() -> int:
    """Changes whenever a run, or anything derived from one (codes, a head, a map), is
    written, replaced or removed: a hash of the modification times of runs/, of each run's
    folder and of its derived folders. Stats only (a few ms for 200 runs), so a table that
    reads every run's reports can be kept until this changes."""
    def stamp(info: os.stat_result) -> tuple[int, int, int]:  # a replaced folder: a new inode
        return info.st_mtime_ns, info.st_ino, info.st_nlink

    stamps = []
    with contextlib.suppress(OSError):
        stamps.append(stamp(os.stat(runs_dir())))
        for run in os.scandir(runs_dir()):
            with contextlib.suppress(OSError):
                stamps.append(stamp(run.stat(follow_symlinks=False)))
                if run.is_dir(follow_symlinks=False):
                    stamps += [stamp(d.stat(follow_symlinks=False)) for d in os.scandir(run.path)
                               if d.name.startswith("derived-") and d.is_dir(follow_symlinks=False)]
    return hash(tuple(stamps))


def read_listed(folder: Path, names: tuple[str, ...]) -> Files | None:
    """Some files of a complete artefact, each checked against its manifest, or None (cheap:
    a run's config and metrics without its weights, for tables; nothing is moved aside)."""
    try:
        listed = json.loads(_read_regular(folder / MANIFEST))["files"]
        files = {name: _read_regular(folder / name) for name in names}
        if all(_sha256(blob) == listed[name] for name, blob in files.items()):
            return files
    except (OSError, ValueError, KeyError, TypeError, RecursionError, CacheCorrupt):
        pass
    return None


def verify_artefact(folder: Path, skip: tuple[str, ...] = ()) -> Files:
    """The files of a complete artefact, checked against its manifest; CacheCorrupt if not.
    Files named in `skip` are neither read nor checked (large ones read on their own)."""
    try:
        manifest = json.loads(_read_regular(folder / MANIFEST))
        expected = manifest["files"]
        if manifest.get("format") != FORMAT_VERSION:
            raise StaleFormat(f"{folder} was written by format {manifest.get('format')!r}")
        if not (isinstance(expected, dict)
                and all(isinstance(d, str) for d in expected.values())):
            raise CacheCorrupt(f"{folder}'s manifest does not map file names to checksums")
        if not all("/" not in n and n not in (".", "..") for n in expected):
            raise CacheCorrupt(f"{folder}'s manifest names a file outside the folder")
        files = {name: _read_regular(folder / name) for name in expected if name not in skip}
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise CacheCorrupt(f"{folder} is incomplete or unreadable ({type(exc).__name__})") from exc
    for name, blob in files.items():
        if _sha256(blob) != expected[name]:
            raise CacheCorrupt(f"{folder / name} does not match its checksum")
    return files


def quarantine(folder: Path, reason: str) -> None:
    """Move a bad artefact aside (kept for inspection) so it is recomputed."""
    target = folder.with_name(f"{folder.name}.corrupt-{int(time.time())}")
    try:
        folder.rename(target)
    except OSError as exc:
        log.warning("could not move aside %s (%s): %s", folder, reason, exc)
        return
    log.warning("moved aside %s (%s); it will be recomputed", folder, reason)


# check(files, folder): raises CacheCorrupt when an artefact's content cannot be what its
# writer wrote (a number that is text, in a file whose manifest was edited to match)
Check = Callable[[Files, Path], None]


def _move_links_aside(folder: Path) -> None:
    """A symlink planted inside a run's folder (its derived-* folder, or an artefact in it,
    pointing elsewhere) is moved aside, so that nothing is read from or written to where it
    points; CacheWriteFailed if it cannot be. Links above (cache/runs on a bigger disk, a
    run's folder) are a person's choice and left alone."""
    root = cache_dir()
    try:
        parts = folder.relative_to(root).parts
    except ValueError:  # not in the cache (an export's folder): not ours to move
        return
    if len(parts) < 3 or parts[0] != "runs":
        return
    path = root / parts[0] / parts[1]
    for part in parts[2:]:
        path = path / part
        if path.is_symlink():
            quarantine(path, "a symlink to somewhere else")
            if path.is_symlink():
                raise CacheWriteFailed(f"{path} is a symlink that could not be moved aside: "
                                       "remove it")
            return


def read_artefact(folder: Path, skip: tuple[str, ...] = (), check: Check | None = None
                  ) -> Files | None:
    """None when there is no complete artefact; a corrupt one is moved aside, then None."""
    _move_links_aside(folder)
    if not os.path.lexists(folder / MANIFEST):  # a FIFO or symlink manifest is corrupt
        return None
    try:
        files = verify_artefact(folder, skip)
        if check is not None:
            check(files, folder)
        return files
    except StaleFormat:
        return None
    except CacheCorrupt as exc:
        quarantine(folder, str(exc))
        return None


@contextlib.contextmanager
def lock(key: str) -> Iterator[None]:
    """A per-key file lock: two threads or processes computing one key take turns."""
    folder = cache_dir() / "locks"
    file_lock = FileLock(str(folder / f"{key}.lock"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        file_lock.acquire()
    except OSError as exc:  # only taking the lock: the caller's own errors pass unchanged
        raise write_failed(f"create the lock {key} in {folder}", exc) from exc
    try:
        yield
    finally:
        file_lock.release()


def get_or_compute(folder: Path, compute: Callable[[], Files], check: Check | None = None
                   ) -> tuple[Files, bool]:
    """(files, cached): the stored artefact, or compute it once under the folder's lock."""
    if (files := read_artefact(folder, check=check)) is not None:
        return files, True
    key = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
    with lock(key):
        if (files := read_artefact(folder, check=check)) is not None:
            return files, True
        files = compute()
        write_artefact(folder, files)
        return files, False


def sweep_temp(root: Path | None = None, older_than: float = STALE_TMP_SECONDS) -> int:
    """Remove temp folders left by killed writers; young ones may belong to a live writer."""
    root = root or cache_dir()
    removed = 0
    now = time.time()
    for tmp in root.rglob(f"{TMP_PREFIX}*"):
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime > older_than:
                shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
                removed += 1
    return removed


def list_run_ids() -> list[str]:
    """Ids of complete runs, newest first."""
    folder = runs_dir()
    if not folder.is_dir():
        return []
    found = []
    for manifest in folder.glob(f"*/{MANIFEST}"):
        with contextlib.suppress(OSError):  # a folder being replaced right now
            if _RUN_ID.fullmatch(manifest.parent.name):
                found.append((manifest.stat().st_mtime, manifest.parent.name))
    return [run_id for _, run_id in sorted(found, reverse=True)]


# --- sizes and removal ------------------------------------------------------------------------

def folder_bytes(path: Path) -> int:
    """The bytes of the regular files under `path` (their sizes, as `ls -l` shows them), or of
    `path` itself if it is a file. Symlinks are never followed, not even `path` itself (a link
    counts 0), so a link to a dataset elsewhere does not count it. One lstat per entry
    (os.scandir, an explicit stack): a cache of 200 runs takes milliseconds. Entries that
    vanish while being counted (a run being replaced or removed) are skipped."""
    try:
        info = os.lstat(path)
    except OSError:
        return 0
    if stat.S_ISREG(info.st_mode):
        return info.st_size
    if not stat.S_ISDIR(info.st_mode):
        return 0
    total, folders = 0, [os.fspath(path)]
    while folders:
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    with contextlib.suppress(OSError):
                        if entry.is_dir(follow_symlinks=False):
                            folders.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
    return total


def size_text(n: int) -> str:
    """Decimal units (1 kB = 1000 B), as file managers show sizes: 812 B, 13.4 kB, 2.1 GB."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def cache_bytes() -> int:
    """The bytes of everything under the cache folder: runs, baselines, canvas digits,
    numba's compile cache, datasets downloaded into it (not AECORE_DATA_DIR elsewhere)."""
    return folder_bytes(cache_dir())


def remove_artefact(folder: Path) -> int:
    """Remove an artefact folder as one step for its readers: renamed to a temp name beside it,
    then deleted (a killed removal leaves a temp folder, which sweep_temp removes later).
    The bytes freed. FileNotFoundError if there is none; CacheCorrupt if `folder` is a symlink
    or not a folder (refused: nothing is followed, nothing outside the cache is touched); a
    failed rename raises CacheWriteFailed and leaves the folder in place."""
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise write_failed(f"remove {folder.name} from {folder.parent}", exc) from exc
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a folder"
        raise CacheCorrupt(f"{folder} is {kind}, so it was left in place (remove it by hand "
                           "if it is yours)")
    size = folder_bytes(folder)
    tmp = folder.parent / f"{TMP_PREFIX}rm-{folder.name}-{uuid.uuid4().hex[:8]}"
    try:
        folder.rename(tmp)
    except OSError as exc:
        raise write_failed(f"remove {folder.name} from {folder.parent}", exc) from exc
    with contextlib.suppress(OSError):  # the rename is done: durable if the disk allows
        _fsync_dir(folder.parent)
    # rmtree never follows a symlink inside the folder (and refuses one at the top: a link
    # swapped in after the check above is left for sweep_temp, its target untouched).
    shutil.rmtree(tmp, ignore_errors=True)
    return size - folder_bytes(tmp)  # what a failed delete left is not freed
