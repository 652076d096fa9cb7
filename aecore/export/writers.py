"""A run taken to the tools people use: a TensorBoard projector bundle, the encoder and decoder
as ONNX, and one self-contained HTML report that opens offline."""

from __future__ import annotations

import contextlib
import fcntl
import io
import itertools
import math
import os
import secrets
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from aecore.core import paths
from aecore.core.config import HeadConfig, ProjectionConfig
from aecore.core.errors import AecoreError, MissingExtra
from aecore.data import datasets
from aecore.figures import tables
from aecore.runs import pipeline
from aecore.training import latents

EXTRA = "pip install -e '.[export]' in a checkout, else pip install 'aecore[export]'"
SPRITE_SIDE = 100  # tiles a side: the 10,000 test digits
SPRITE_MAX_PX = 8192  # the largest sprite sheet TensorBoard's projector takes, a side
PROJECTOR_FILES = ("tensors.tsv", "metadata.tsv", "sprite.png", "projector_config.pbtxt")
ONNX_FILES = ("encoder.onnx", "decoder.onnx")
LOCK_NAME = ".aecore-export.lock"  # in each folder an export writes to, for the whole export


class ExportFailed(AecoreError):
    """An export could not be written (a folder that is a file, a read-only place ...)."""


@dataclass(frozen=True)
class TestDigits:
    """What every export shows of a run's test digits."""
    images: torch.Tensor        # uint8 [10000, 28, 28]
    labels: np.ndarray          # int [10000]
    label_names: list[str]
    codes: np.ndarray           # float32 [10000, k]
    errors: np.ndarray          # float32 [10000]: each digit's reconstruction BCE
    predictions: np.ndarray | None  # int [10000]; None: no head (see test_digits)
    head: str                   # the head that predicted: "mlp" when one is stored, else "linear"
    report: dict | None         # its report (accuracy, confusion, baselines ...)


def test_digits(run: pipeline.Run, train_head: bool = True) -> TestDigits:
    """The run's test digits with their codes, errors and predictions. The predictions are
    the MLP head's when it was trained before, else the linear head's: the classic recipe's,
    trained now if needed unless `train_head` is False (then there are none)."""
    data = datasets.load(run.config.dataset)
    codes = pipeline.codes(run)[1]
    name = pipeline.stored_head_name(run) or ("linear" if train_head and data.labelled
                                              else None)  # unlabelled: nothing to predict
    head = pipeline.classify(run, HeadConfig(head=name)) if name else None
    return TestDigits(data.test_x, data.test_y.numpy(), data.label_names, codes.numpy(),
                      latents.reconstruction_error(run.model, data.test_x).numpy(),
                      head.head.predict(codes) if head else None,
                      name or "", head.report if head else None)


def _folder(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportFailed(f"cannot make the folder {path}: {exc.strerror or exc}") from None
    return path


def _os_failure(exc: OSError, path: Path | None = None) -> ExportFailed:
    """One sentence for any OS error (a name too long, a full disk ...), never a traceback."""
    where = f" {path or exc.filename}" if path or exc.filename else ""
    return ExportFailed(f"cannot export to{where}: {exc.strerror or exc}")


def _write(path: Path, blob: bytes | str) -> Path:
    """Written to a fresh temp file beside `path`, synced, then renamed onto it: an interrupted
    export leaves the old file or the new. The temp name is random and opened with O_EXCL and
    O_NOFOLLOW: a name planted beside the target (a symlink to a victim) is never written
    through, and two writers never share a temp file."""
    data = memoryview(blob.encode() if isinstance(blob, str) else blob)
    try:
        _check_file(path)  # again at write time: the target may have changed since the check
        part = path.with_name(f".aecore-{secrets.token_hex(8)}.part")
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o644)
    except OSError as exc:
        raise _os_failure(exc, path) from None
    try:
        try:
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(part, path)
    except BaseException as exc:  # Ctrl-C included: no temp file is left behind
        with contextlib.suppress(OSError):
            os.unlink(part)
        if isinstance(exc, OSError):
            raise _os_failure(exc, path) from None  # the target's name, not the temp file's
        raise
    return path


# --- targets: checked, made and locked before any work ------------------------------------------

@dataclass(frozen=True)
class _Target:
    flag: str
    given: Path
    path: Path               # symlinks resolved (but an --html file's own name: see _resolved)
    files: tuple[Path, ...]  # what the export writes there


def _resolved(flag: str, given: Path) -> Path:
    # A report's own name is kept as given, so that a symlink there is seen and refused.
    if flag == "--html" and given.name not in ("", ".", ".."):
        return given.parent.resolve() / given.name
    return given.resolve()


def _targets(projector: Path | None, onnx_dir: Path | None, html: Path | None) -> list[_Target]:
    names = {"--projector": (*PROJECTOR_FILES, LOCK_NAME), "--onnx": (*ONNX_FILES, LOCK_NAME)}
    found = []
    for flag, given in (("--projector", projector), ("--onnx", onnx_dir), ("--html", html)):
        if given is not None:
            path = _resolved(flag, given)
            files = tuple(path / n for n in names[flag]) if flag in names else (path,)
            found.append(_Target(flag, given, path, files))
    return found


def _check_file(path: Path, flag: str = "") -> None:
    """A file an export replaces: absent, or a regular file (never a symlink, device, fifo)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise ExportFailed(f"{path} is a symlink: an export never writes through one; remove "
                           "it or name another file")
    if stat.S_ISDIR(mode):
        hint = f"give the report's file name, e.g. {path}/run.html" if flag == "--html" else \
            "remove it or choose another folder"
        raise ExportFailed(f"{path} is a folder where a file is to be written: {hint}")
    if not stat.S_ISREG(mode):
        kinds = {stat.S_IFCHR: "character device", stat.S_IFBLK: "block device",
                 stat.S_IFIFO: "fifo", stat.S_IFSOCK: "socket"}
        kind = kinds.get(stat.S_IFMT(mode), "special file")
        raise ExportFailed(f"{path} is a {kind}, not a regular file: name a file to write")


def _check_folder(folder: Path) -> None:
    """A folder that exists and is writable, or that can be made in one that is."""
    there = folder
    while not there.exists() and there != there.parent:
        there = there.parent
    if not there.is_dir():
        raise ExportFailed(f"cannot make the folder {folder}: {there} is a file")
    if not os.access(there, os.W_OK | os.X_OK):
        raise ExportFailed(f"cannot write in {there}: permission denied")


def _check_distinct(targets: list[_Target]) -> None:
    """No two targets in one place, and none where another writes a file (the report as
    t/S/tensors.tsv beside --projector t/S; --onnx t/S/metadata.tsv)."""
    for a, b in itertools.permutations(targets, 2):
        if a.path == b.path:
            raise ExportFailed(f"{a.flag} and {b.flag} both name {b.given}: give each its own")
        for file in a.files:
            if file == b.path or file in b.path.parents:
                raise ExportFailed(f"{b.flag} {b.given} collides with {file.name}, which "
                                   f"{a.flag} writes in {file.parent}")


def check_targets(projector: Path | None, onnx_dir: Path | None, html: Path | None) -> None:
    """Every place an export will write, refused before any work starts (nothing is made)."""
    # a run's files, or a dataset's, overwritten
    kept = {paths.cache_dir().resolve(): "the cache folder",
            **{d.resolve(): "a dataset folder" for d in paths.data_dirs()}}
    try:
        targets = _targets(projector, onnx_dir, html)
        for t in targets:
            for folder, what in kept.items():
                if t.path == folder or folder in t.path.parents:
                    raise ExportFailed(f"{t.flag} {t.given} is inside {what} {folder}: "
                                       "export somewhere else")
            _check_folder(t.path.parent if t.flag == "--html" else t.path)
            for file in t.files:
                _check_file(file, t.flag)
            if t.flag == "--html" and t.path.name == LOCK_NAME:
                raise ExportFailed(f"{t.given} is the lock file exports take: name another file")
        _check_distinct(targets)
    except OSError as exc:
        raise _os_failure(exc) from None


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One export per folder at a time: two at once would mix their files (a tensors.tsv of
    mixed widths). Non-blocking: the second is told at once rather than left waiting."""
    # O_NONBLOCK: a fifo planted under the lock's name fails to open instead of hanging.
    # Read-only: flock needs no write access, so another user's lock file in a shared folder
    # (/tmp) does not refuse this user's export.
    fd = os.open(folder / LOCK_NAME, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                 | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExportFailed(f"another export is writing to {folder}: wait for it to end "
                               "or choose another folder") from None
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def writing(projector: Path | None, onnx_dir: Path | None, html: Path | None) -> Iterator[None]:
    """The targets checked, their folders made and locked for the whole export; an OS error
    inside becomes ExportFailed, one line."""
    folders = [f for f in (projector, onnx_dir) if f is not None]
    folders += [html.parent] if html is not None else []
    try:
        check_targets(projector, onnx_dir, html)
        with contextlib.ExitStack() as locks:
            for folder in sorted({f.resolve() for f in folders}):  # --html out/r.html beside
                locks.enter_context(_locked(_folder(folder)))      # --projector out: one lock
            check_targets(projector, onnx_dir, html)  # again, now that no other export can
            yield
    except OSError as exc:
        raise _os_failure(exc) from None


# --- TensorBoard projector -------------------------------------------------------------------

def sprite(images: torch.Tensor, side: int | None = None) -> np.ndarray:
    """uint8 [N, 28, 28] -> one uint8 [side*28, side*28] sheet, row by row (N <= side^2); any
    size, and colour [N, H, W, 3] gives a colour sheet."""
    n, h, w = images.shape[:3]
    channels = images.shape[3:]
    side = side or max(SPRITE_SIDE, math.ceil(math.sqrt(n)))
    sheet = np.zeros((side * side, h, w, *channels), dtype=np.uint8)
    sheet[:n] = images.numpy()
    return (sheet.reshape(side, side, h, w, *channels).swapaxes(1, 2)
            .reshape(side * h, side * w, *channels))


def sprite_tiles(images: torch.Tensor) -> torch.Tensor:
    """The images as the sprite's tiles: as they are, or scaled down (by area, a chunk at a
    time) so the sheet stays within SPRITE_MAX_PX a side: 64x64 images past 16,384 of them."""
    n, h = images.shape[:2]
    tile = SPRITE_MAX_PX // max(SPRITE_SIDE, math.ceil(math.sqrt(n)))
    if tile >= h:
        return images
    colour = images.dim() == 4
    out = []
    for chunk in images.split(4096):
        x = (chunk.permute(0, 3, 1, 2) if colour else chunk[:, None]).float()
        x = F.interpolate(x, size=(tile, tile), mode="area").round().to(torch.uint8)
        out.append(x.permute(0, 2, 3, 1) if colour else x[:, 0])
    return torch.cat(out)


def projector_config(run_id: str, shape: tuple[int, int], image: tuple[int, ...] = (28, 28)
                     ) -> str:
    """TensorBoard's ProjectorConfig as text format (what `tensorboard --logdir` reads)."""
    return (f'embeddings {{\n  tensor_name: "aecore run {run_id}: test codes"\n'
            f"  tensor_shape: {shape[0]}\n  tensor_shape: {shape[1]}\n"
            f'  tensor_path: "tensors.tsv"\n  metadata_path: "metadata.tsv"\n'
            f'  sprite {{\n    image_path: "sprite.png"\n'
            f"    single_image_dim: {image[1]}\n    single_image_dim: {image[0]}\n  }}\n}}\n")


def projector(run: pipeline.Run, folder: Path, digits: TestDigits | None = None) -> list[Path]:
    """The projector bundle of the run's test codes in `folder` (a TensorBoard logdir)."""
    d = digits or test_digits(run)
    tensors = io.StringIO()
    np.savetxt(tensors, d.codes, fmt="%.6g", delimiter="\t")
    names = np.asarray(d.label_names)
    meta = pd.DataFrame({"label": names[d.labels], "reconstruction_error": d.errors})
    if d.predictions is not None:
        meta.insert(1, "prediction", names[d.predictions])
    tiles = sprite_tiles(d.images)
    folder = _folder(folder)
    return [_write(folder / "tensors.tsv", tensors.getvalue()),
            _write(folder / "metadata.tsv", meta.to_csv(sep="\t", index=False,
                                                         float_format="%.6g")),
            _write(folder / "sprite.png", tables.png_bytes(sprite(tiles))),
            _write(folder / "projector_config.pbtxt",
                   projector_config(run.run_id, d.codes.shape, tuple(tiles.shape[1:3])))]


# --- ONNX --------------------------------------------------------------------------------------

class Encoder(nn.Module):
    """images [B, P] in [0, 1] -> codes [B, k] (a VAE's posterior mean); P = 784 for MNIST,
    the pixels of the run's image shape (H*W, or H*W*3 in that order for colour)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.encode(images)


class Decoder(nn.Module):
    """codes [B, k] -> images [B, P] in [0, 1]."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model.decode(codes))


def _require(module: str, what: str):
    try:
        return __import__(module)
    except ImportError:
        raise MissingExtra(f"{what} needs {module}, an optional extra: {EXTRA}") from None


def require_onnx() -> None:
    _require("onnx", "--onnx")
    _require("onnxscript", "--onnx")  # torch's exporter


def onnx(run: pipeline.Run, folder: Path) -> list[Path]:
    """encoder.onnx and decoder.onnx, each with a dynamic batch dimension."""
    require_onnx()
    folder = _folder(folder)
    model = pipeline.load_run(run.run_id).model  # a copy: export traces it, never the shared one
    k = run.config.latent_dim
    batch = torch.export.Dim("batch", min=1)
    blobs = {}
    for name, module, example, names in (
            ("encoder.onnx", Encoder(model), torch.rand(2, model.pixels), ("images", "codes")),
            ("decoder.onnx", Decoder(model), torch.randn(2, k), ("codes", "images"))):
        # The exporter prints its steps on stdout, which carries --json's one object.
        with contextlib.redirect_stdout(sys.stderr if sys.stderr else io.StringIO()):
            try:
                program = torch.onnx.export(module.eval(), (example,), dynamo=True,
                                            input_names=[names[0]], output_names=[names[1]],
                                            dynamic_shapes=({0: batch},), verbose=False)
                blob = program.model_proto.SerializeToString()
            except Exception as exc:
                if _interrupted(exc):
                    raise KeyboardInterrupt from None
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise ExportFailed(f"the ONNX exporter failed on {name}: "
                                   f"{type(exc).__name__}: {first}") from None
        blobs[name] = blob
    # Both are written once both are made: a run's encoder never sits beside another's decoder.
    return [_write(folder / name, blob) for name, blob in blobs.items()]


def _interrupted(exc: BaseException | None) -> bool:
    """True when Ctrl-C is what broke the exporter (it wraps what it catches)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


# --- HTML report -------------------------------------------------------------------------------

def write_html(path: Path, text: str) -> Path:
    """Not locked here: the CLI holds its folder's lock already (flock is per open file)."""
    check_targets(None, None, path)
    return _write(_folder(path.parent) / path.name, text)


def html(run: pipeline.Run, digits: TestDigits | None = None,
         projection: ProjectionConfig | None = None) -> str:
    from aecore.export.report import report_html  # plotly, only for this export

    return report_html(run, digits or test_digits(run), projection)
