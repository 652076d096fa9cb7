"""A run taken to the tools people use: a TensorBoard projector bundle, the encoder and decoder
as ONNX, and one self-contained HTML report that opens offline."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from aecore import data as datasets
from aecore import lab, latents, tables
from aecore.config import HeadConfig, ProjectionConfig
from aecore.errors import AecoreError, MissingExtra

EXTRA = "pip install -e '.[export]' in a checkout, else pip install 'aecore[export]'"
SPRITE_SIDE = 100  # tiles a side: the 10,000 test digits
PROJECTOR_FILES = ("tensors.tsv", "metadata.tsv", "sprite.png", "projector_config.pbtxt")


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


def stored_head(run: lab.Run) -> str | None:
    for name in ("mlp", "linear"):
        if lab.is_valid(lab.head_folder(run, HeadConfig(head=name))):
            return name
    return None


def test_digits(run: lab.Run, train_head: bool = True) -> TestDigits:
    """The run's test digits with their codes, errors and predictions. The predictions are
    the MLP head's when it was trained before, else the linear head's: the classic recipe's,
    trained now if needed unless `train_head` is False (then there are none)."""
    data = datasets.load(run.config.dataset)
    codes = lab.codes(run)[1]
    name = stored_head(run) or ("linear" if train_head else None)
    head = lab.classify(run, HeadConfig(head=name)) if name else None
    return TestDigits(data.test_x, data.test_y.numpy(), data.label_names, codes.numpy(),
                      latents.reconstruction_error(run.model, data.test_x).numpy(),
                      head.head.probabilities(codes).argmax(1).numpy() if head else None,
                      name or "", head.report if head else None)


def _folder(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportFailed(f"cannot make the folder {path}: {exc.strerror or exc}") from None
    return path


def _write(path: Path, blob: bytes | str) -> Path:
    """Written beside, then renamed: an interrupted export leaves the old file or the new."""
    part = path.with_name(f".{path.name}.part")
    try:
        part.write_bytes(blob.encode() if isinstance(blob, str) else blob)
        os.replace(part, path)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise ExportFailed(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def check_targets(projector: Path | None, onnx_dir: Path | None, html: Path | None) -> None:
    """Every place an export will write, made or refused before any work starts."""
    for folder in (projector, onnx_dir):
        if folder is not None:
            _folder(folder)
    if html is not None:
        if html.is_dir():
            raise ExportFailed(f"{html} is a folder: give the report's file name, e.g. "
                               f"{html}/run.html")
        _folder(html.parent)
        if not os.access(html.parent, os.W_OK):
            raise ExportFailed(f"cannot write in {html.parent}: permission denied")


# --- TensorBoard projector -------------------------------------------------------------------

def sprite(images: torch.Tensor, side: int = SPRITE_SIDE) -> np.ndarray:
    """uint8 [N, 28, 28] -> one uint8 [side*28, side*28] sheet, row by row (N <= side^2)."""
    n, h, w = images.shape
    sheet = np.zeros((side * side, h, w), dtype=np.uint8)
    sheet[:n] = images.numpy()
    return sheet.reshape(side, side, h, w).transpose(0, 2, 1, 3).reshape(side * h, side * w)


def projector_config(run_id: str, shape: tuple[int, int]) -> str:
    """TensorBoard's ProjectorConfig as text format (what `tensorboard --logdir` reads)."""
    return (f'embeddings {{\n  tensor_name: "aecore run {run_id}: test codes"\n'
            f"  tensor_shape: {shape[0]}\n  tensor_shape: {shape[1]}\n"
            f'  tensor_path: "tensors.tsv"\n  metadata_path: "metadata.tsv"\n'
            f'  sprite {{\n    image_path: "sprite.png"\n'
            f"    single_image_dim: 28\n    single_image_dim: 28\n  }}\n}}\n")


def projector(run: lab.Run, folder: Path, digits: TestDigits | None = None) -> list[Path]:
    """The projector bundle of the run's test codes in `folder` (a TensorBoard logdir)."""
    d = digits or test_digits(run)
    tensors = io.StringIO()
    np.savetxt(tensors, d.codes, fmt="%.6g", delimiter="\t")
    names = np.asarray(d.label_names)
    meta = pd.DataFrame({"label": names[d.labels], "prediction": names[d.predictions],
                         "reconstruction_error": d.errors})
    folder = _folder(folder)
    return [_write(folder / "tensors.tsv", tensors.getvalue()),
            _write(folder / "metadata.tsv", meta.to_csv(sep="\t", index=False,
                                                         float_format="%.6g")),
            _write(folder / "sprite.png", tables.png_bytes(sprite(d.images))),
            _write(folder / "projector_config.pbtxt",
                   projector_config(run.run_id, d.codes.shape))]


# --- ONNX --------------------------------------------------------------------------------------

class Encoder(nn.Module):
    """images [B, 784] in [0, 1] -> codes [B, k] (a VAE's posterior mean)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.encode(images)


class Decoder(nn.Module):
    """codes [B, k] -> images [B, 784] in [0, 1]."""

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


def onnx(run: lab.Run, folder: Path) -> list[Path]:
    """encoder.onnx and decoder.onnx, each with a dynamic batch dimension."""
    require_onnx()
    folder = _folder(folder)
    model = lab.load_run(run.run_id).model  # a copy: export traces it, never the shared one
    k = run.config.latent_dim
    batch = torch.export.Dim("batch", min=1)
    blobs = {}
    for name, module, example, names in (
            ("encoder.onnx", Encoder(model), torch.rand(2, 784), ("images", "codes")),
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
    check_targets(None, None, path)
    return _write(path, text)


def html(run: lab.Run, digits: TestDigits | None = None,
         projection: ProjectionConfig | None = None) -> str:
    from aecore.report import report_html  # plotly, only for this export

    return report_html(run, digits or test_digits(run), projection)
