"""The training loop: a generator of events (the page draws them, the CLI prints them).

The whole dataset stays on the device as uint8; each epoch draws one permutation and slices
batches from it, so no DataLoader and no per-image transform runs (DESIGN.md, "Speed").
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import torch

from aecore.core import metrics
from aecore.core.config import TrainConfig
from aecore.core.errors import InvalidConfig, OutOfMemory, TrainingDiverged
from aecore.data.datasets import Dataset
from aecore.data.noise import mask
from aecore.models import Autoencoder, as_pixels, from_config
from aecore.training.latents import encode

EVAL_CHUNK = 2_000
# The test codes are kept a few times inside the first epoch, where the map changes most,
# then at the end of every epoch (at most MAX_EPOCH_SNAPSHOTS of them, denser early on).
FIRST_EPOCH_SHARES = (0.01, 0.05, 0.2)
MAX_EPOCH_SNAPSHOTS = 20


@dataclass
class BatchEvent:
    step: int
    epoch: int
    loss: float
    kl: float | None = None  # a VAE's KL term, nats per image


@dataclass
class EpochEvent:
    epoch: int  # 1-based
    train_loss: float
    test_loss: float
    seconds: float        # the whole epoch, test evaluation included
    train_seconds: float  # the batches alone
    # A VAE's KL term (nats per image): the epoch's batch mean, and on the test set. The
    # losses above are the reconstruction BCE alone (for a VAE's test set: of the mean).
    kl: float | None = None
    test_kl: float | None = None


@dataclass
class History:
    batch_loss: list[float] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)  # EpochEvent fields, one dict per epoch
    batch_kl: list[float] = field(default_factory=list)  # a VAE's, else empty

    def to_dict(self) -> dict:
        out = {"batch_loss": self.batch_loss, "epochs": self.epochs}
        return {**out, "batch_kl": self.batch_kl} if self.batch_kl else out

    @classmethod
    def from_dict(cls, data: dict) -> History:
        return cls(list(data["batch_loss"]), list(data["epochs"]), list(data.get("batch_kl", [])))

    @classmethod
    def readable(cls, data) -> History:
        """A stored history, its unreadable parts left out (a hand-edited file draws what
        still reads; nothing raises): numbers in the batch curves, whole epochs only."""
        data = data if isinstance(data, dict) else {}

        def numbers(key: str) -> list[float]:
            values = data.get(key)
            return [v for v in values if _finite(v)] if isinstance(values, list) else []

        epochs = data.get("epochs") if isinstance(data.get("epochs"), list) else []
        whole = [e for e in epochs if isinstance(e, dict)
                 and all(_finite(e.get(k)) for k in ("epoch", "train_loss", "test_loss"))]
        return cls(numbers("batch_loss"), whole, numbers("batch_kl"))


def _finite(value) -> bool:
    return metrics.number(value) is not None


@dataclass(frozen=True)
class Snapshot:
    epoch: float          # 0.05 is 5 % into the first epoch, 3.0 the end of the third
    codes: torch.Tensor   # float16 [10000, k]: the test codes at that moment, on the CPU


@dataclass
class DoneEvent:
    model: Autoencoder
    history: History
    stopped: bool  # True when the stop flag ended training early
    seconds: float
    snapshots: list[Snapshot] = field(default_factory=list)

    @property
    def epochs_done(self) -> int:
        return len(self.history.epochs)


Event = BatchEvent | EpochEvent | DoneEvent


def devices_here() -> list[str]:
    """The device types training can use on this machine, the preferred one last."""
    found = ["cpu"]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    if torch.cuda.is_available():
        found.append("cuda")
    return found


def pick_device(device: str = "auto") -> torch.device:
    """`auto` is cuda, else mps, else cpu. A device this machine lacks is an InvalidConfig
    here, before any work, rather than a torch error midway (meta, xla, cuda without CUDA)."""
    here = devices_here()
    if device == "auto":
        return torch.device(here[-1])
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        dev = None
    if (dev is None or dev.type not in here
            or (dev.type == "cuda" and (dev.index or 0) >= torch.cuda.device_count())):
        raise InvalidConfig(f"device {device!r} is not available on this machine: use "
                            + ", ".join(["auto", *here]))
    return dev


class Evaluation(NamedTuple):
    reconstruction: float  # mean per-pixel BCE (of the posterior mean for a VAE)
    kl: float | None       # a VAE's KL, nats per image


@torch.inference_mode()
def evaluate(model: Autoencoder, images: torch.Tensor) -> Evaluation:
    """The model in eval mode over all images, weighted by chunk size."""
    totals: dict[str, float] = {}
    for start in range(0, len(images), EVAL_CHUNK):
        chunk = images[start:start + EVAL_CHUNK]
        for name, value in model.loss(as_pixels(chunk)).items():
            totals[name] = totals.get(name, 0.0) + value.item() * len(chunk)
    n = len(images)
    return Evaluation(totals["reconstruction"] / n, totals["kl"] / n if "kl" in totals else None)


def snapshot_epochs(epochs: int) -> set[int]:
    """The epochs whose end is kept: all of them, or MAX_EPOCH_SNAPSHOTS spaced
    geometrically (a 100-epoch run keeps 1, 2, 3, 4, 5, 6, 8, ... 100)."""
    if epochs <= MAX_EPOCH_SNAPSHOTS:
        return set(range(1, epochs + 1))
    spaced = torch.logspace(0, math.log10(epochs), MAX_EPOCH_SNAPSHOTS).round().int().tolist()
    return {*spaced, epochs}


def snapshot_steps(steps_per_epoch: int) -> dict[int, float]:
    """Steps of the first epoch after which the test codes are kept, with their epoch."""
    steps = {max(1, math.ceil(share * steps_per_epoch)) for share in FIRST_EPOCH_SHARES}
    return {s: round(s / steps_per_epoch, 3) for s in sorted(steps) if s < steps_per_epoch}


def _snapshot(model: Autoencoder, test_x: torch.Tensor, epoch: float) -> Snapshot:
    was_training = model.training
    codes = encode(model.eval(), test_x).half()
    model.train(was_training)
    return Snapshot(epoch, codes)


class _Finished(NamedTuple):
    """The state at the end of the last finished epoch: what a stopped run keeps."""
    weights: dict[str, torch.Tensor]
    steps: int
    snapshots: int


def _stopped(model: Autoencoder, history: History, snapshots: list[Snapshot],
             finished: _Finished, seconds: float) -> DoneEvent:
    """A stop mid-epoch keeps the last finished epoch, weights and curves alike, so that every
    number stored with the run (its test loss, a VAE's KL) describes the weights stored."""
    if finished.weights:
        model.load_state_dict(finished.weights)
    del history.batch_loss[finished.steps:], history.batch_kl[finished.steps:]
    return DoneEvent(model.eval(), history, True, seconds, snapshots[:finished.snapshots])


def run(cfg: TrainConfig, data: Dataset, stop: threading.Event | None = None,
        device: str = "auto") -> Iterator[Event]:
    """Train from scratch; yields a BatchEvent per step, an EpochEvent per epoch, one DoneEvent.

    Raises TrainingDiverged on a non-finite loss (nothing is yielded as done then).
    """
    dev = pick_device(device)
    torch.manual_seed(cfg.seed)
    model = from_config(cfg, data.image_shape).to(dev)
    if any(p.dim() == 4 for p in model.parameters()):
        # oneDNN's convolutions, transposed ones above all, run faster in NHWC on a CPU.
        model = model.to(memory_format=torch.channels_last)
    train_x = data.train_x.to(dev)
    test_x = data.test_x.to(dev)
    n = len(train_x)
    # A batch larger than a small dataset's training split is the whole split, once an epoch.
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    # fused Adam: one kernel per step instead of a handful per parameter (~15% of an epoch).
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=dev.type in ("cpu", "cuda"))
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(cfg.seed)
    noise_gen = torch.Generator(dev).manual_seed(cfg.seed + 1)
    history = History()
    snapshots: list[Snapshot] = []
    early = snapshot_steps(steps_per_epoch)
    kept_epochs = snapshot_epochs(cfg.epochs)
    started = time.perf_counter()
    step = 0
    finished = _Finished({}, 0, 0)
    for epoch in range(1, cfg.epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        # One shuffled copy per epoch (47 MB of uint8), then every batch is a contiguous slice:
        # cheaper than gathering 128 scattered rows per step.
        shuffled = train_x[torch.randperm(n, generator=gen).to(dev)]
        running, running_kl = 0.0, 0.0
        for i in range(0, n, cfg.batch_size):
            if stop is not None and stop.is_set():
                yield _stopped(model, history, snapshots, finished, time.perf_counter() - started)
                return
            batch = as_pixels(shuffled[i:i + cfg.batch_size])
            try:
                terms = model.loss(mask(batch, cfg.noise, noise_gen), batch, cfg.l1)
                loss = terms["loss"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
            except (MemoryError, torch.OutOfMemoryError) as exc:
                raise OutOfMemory(f"training ran out of memory at epoch {epoch}: use a smaller "
                                  f"batch (now {cfg.batch_size}) or model; nothing was "
                                  "saved") from exc
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"the loss became {value} at epoch {epoch}, step {step + 1}: lower the "
                    f"learning rate (now {cfg.lr:g}); nothing was saved")
            opt.step()
            sched.step()
            step += 1
            kl = terms["kl"].item() if "kl" in terms else None
            # The epoch's train loss is its reconstruction alone, comparable with the test's.
            reconstruction = terms["reconstruction"]
            running += (value if reconstruction is loss else reconstruction.item()) * len(batch)
            history.batch_loss.append(value)
            if kl is not None:
                running_kl += kl * len(batch)
                history.batch_kl.append(kl)
            if epoch == 1 and step in early:
                snapshots.append(_snapshot(model, test_x, early[step]))
            yield BatchEvent(step, epoch, value, kl)
        train_seconds = time.perf_counter() - epoch_start
        model.eval()
        test = evaluate(model, test_x)
        record = EpochEvent(epoch, running / n, test.reconstruction,
                            time.perf_counter() - epoch_start, train_seconds,
                            running_kl / n if model.variational else None, test.kl)
        history.epochs.append(vars(record).copy())
        if epoch in kept_epochs:
            snapshots.append(_snapshot(model, test_x, float(epoch)))
        finished = _Finished({k: v.clone() for k, v in model.state_dict().items()}, step,
                             len(snapshots))
        yield record
    yield DoneEvent(model, history, False, time.perf_counter() - started, snapshots)
