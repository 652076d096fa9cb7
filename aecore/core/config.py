"""One frozen dataclass per stage. Each is saved inside its artefacts and hashed into its key."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from aecore import FORMAT_VERSION
from aecore.core.errors import InvalidConfig
from aecore.core.metrics import number

# Known by name (aecore.data.idx); a person adds their own (aecore.data.folders).
DATASETS = ("mnist", "fashion", "kmnist", "emnist-letters", "emnist-balanced")
DATASET_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
# Each model with the shape a person picks it by (the Train page, Compare and the CLI's help).
MODEL_SHAPES = {"dense": "784-k-784, the classic", "deep": "784-256-128-k",
                "conv": "small CNN", "vae": "variational, deep dense",
                "vae-conv": "variational, small CNN"}
MODELS = tuple(MODEL_SHAPES)
VARIATIONAL = ("vae", "vae-conv")
HEADS = ("linear", "mlp")
METHODS = ("umap", "pca")
TRAIN_SIZE = 60_000


class Config:
    """Shared behaviour: validation on construction, a stable key, a JSON round trip."""

    kind: ClassVar[str] = "config"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:  # overridden
        pass

    def to_dict(self) -> dict[str, Any]:
        """Fields marked `omit_default` are left out at their default, so a setting added
        later keeps the keys (the run ids) of everything made before it."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                  if not (f.metadata.get("omit_default") and getattr(self, f.name) == f.default)}
        return {"kind": self.kind, "format": FORMAT_VERSION, **values}

    def key(self) -> str:
        """12 hex chars of the sha256 of the canonical JSON, format version included."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        names = {f.name for f in dataclasses.fields(cls)}
        if data.get("format") != FORMAT_VERSION:
            raise InvalidConfig(f"stored {cls.kind} config has format {data.get('format')!r}, "
                                f"this version reads {FORMAT_VERSION}")
        return cls(**{k: v for k, v in data.items() if k in names})


def model_label(name: str) -> str:
    return f"{name} ({MODEL_SHAPES[name]})"


def check_dataset_name(name: Any) -> None:
    """A built-in dataset or the form of an added one's name (whether it exists is the data
    layer's to say, when it loads)."""
    if name in DATASETS:
        return
    if not isinstance(name, str) or not DATASET_NAME.fullmatch(name):
        raise InvalidConfig(f"dataset must be one of {', '.join(DATASETS)} or the name of one "
                            f"added with aecore data add, not {str(name)[:60]!r}")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InvalidConfig(f"{name} must be one of {', '.join(choices)}, not {value!r}")


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidConfig(f"{name} must be a whole number from {low} to {high}, not {value!r}")


def _check_range(name: str, value: Any, low: float, high: float) -> None:
    if number(value) is None or not low <= value <= high:
        raise InvalidConfig(f"{name} must be a number from {low:g} to {high:g}, not {value!r}")


def _added(default: float) -> Any:
    """A setting added after runs were stored: at its default it is not part of the key."""
    return dataclasses.field(default=default, metadata={"omit_default": True})


def _check_positive(name: str, value: Any, high: float) -> None:
    if number(value) is None or not 0 < value <= high:
        raise InvalidConfig(f"{name} must be a number above 0 and at most {high}, not {value!r}")


@dataclass(frozen=True)
class TrainConfig(Config):
    """An autoencoder run. Its key is the run id."""

    kind: ClassVar[str] = "train"
    dataset: str = "mnist"
    model: str = "dense"
    latent_dim: int = 32
    epochs: int = 10
    batch_size: int = 128
    # Peak of the one-cycle schedule (Smith & Topin 2017) with Adam.
    lr: float = 4e-3
    seed: int = 0
    # The KL weight of a VAE (Higgins et al. 2017's beta-VAE); 1 is the plain VAE.
    beta: float = _added(1.0)
    # Denoising (Vincent et al. 2008): this share of input pixels set to 0, fresh each batch.
    noise: float = _added(0.0)
    # Sparse codes: this weight times each image's sum of |code| is added to the loss.
    l1: float = _added(0.0)

    def __post_init__(self) -> None:
        for name in ("beta", "noise", "l1"):  # 2 and 2.0 must give one key
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        super().__post_init__()

    @property
    def variational(self) -> bool:
        return self.model in VARIATIONAL

    @property
    def variant(self) -> str:
        """The settings off their defaults, as "batch 64, β 4, noise 0.3" ("" for none)."""
        default = TrainConfig()
        shown = (("batch", "batch_size"), ("lr", "lr"), ("β", "beta"), ("noise", "noise"),
                 ("L1", "l1"))
        return ", ".join(f"{label} {getattr(self, name):g}" for label, name in shown
                         if getattr(self, name) != getattr(default, name))

    def validate(self) -> None:
        check_dataset_name(self.dataset)
        _check_choice("model", self.model, MODELS)
        _check_int("latent size", self.latent_dim, 2, 256)
        _check_int("epochs", self.epochs, 1, 1000)
        _check_int("batch size", self.batch_size, 1, TRAIN_SIZE)
        _check_positive("learning rate", self.lr, 10.0)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        _check_range("beta", self.beta, 0.1, 10.0)
        if self.beta != 1.0 and not self.variational:
            raise InvalidConfig(f"beta weighs a VAE's KL term: it applies to "
                                f"{' and '.join(VARIATIONAL)}, not to {self.model}")
        _check_range("noise", self.noise, 0.0, 0.5)
        _check_range("l1", self.l1, 0.0, 1.0)


@dataclass(frozen=True)
class ProjectionConfig(Config):
    """A 2-D map of the test codes."""

    kind: ClassVar[str] = "projection"
    method: str = "umap"
    n_neighbors: int = 15
    min_dist: float = 0.1
    # 100 layout epochs instead of UMAP's 500 for 10k points: same 2-D kNN accuracy, 3x faster.
    n_epochs: int = 100
    seed: int = 0

    def validate(self) -> None:
        _check_choice("method", self.method, METHODS)
        _check_int("n_neighbors", self.n_neighbors, 2, 200)
        _check_int("n_epochs", self.n_epochs, 10, 2000)
        if not 0 <= self.min_dist <= 1:
            raise InvalidConfig(f"min_dist must be from 0 to 1, not {self.min_dist!r}")


@dataclass(frozen=True)
class HeadConfig(Config):
    """A classifier trained on the codes (or on a baseline's features)."""

    kind: ClassVar[str] = "head"
    head: str = "linear"
    epochs: int = 20
    batch_size: int = 256
    lr: float = 3e-3
    hidden: int = 256
    seed: int = 0
    # Also train on the codes of jittered copies of the training digits (aecore.data.jitter), so
    # that drawings, slanted and thick or thin, are read as well as MNIST's digits.
    jitter: bool = _added(False)

    def validate(self) -> None:
        _check_choice("head", self.head, HEADS)
        if not isinstance(self.jitter, bool):
            raise InvalidConfig(f"jitter must be true or false, not {self.jitter!r}")
        _check_int("head epochs", self.epochs, 1, 500)
        _check_int("head batch size", self.batch_size, 1, TRAIN_SIZE)
        _check_positive("head learning rate", self.lr, 10.0)
        _check_int("hidden units", self.hidden, 2, 4096)
