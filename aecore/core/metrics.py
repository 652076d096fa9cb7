"""A run's metrics as its metrics.json reads: a field that is not a finite number where one
belongs reads as unknown (None), never as an error (a hand-edited file must not take down
every page that lists runs)."""

from __future__ import annotations

import math
import re

# torch's device names: a stored string shown on pages is one of these or unknown
DEVICE = re.compile(r"(cpu|cuda|mps)(:[0-9]{1,2})?")
VARIATIONAL = ("kl", "active_units", "reconstruction", "negative_elbo")

# The fields that are numbers; a VAE's KL figures are checked where they are used
# (pipeline.variational_stats computes them again when they do not read).
NUMBERS = ("train_loss", "test_loss", "epochs_done", "seconds", "seconds_per_epoch", "created")
UNKNOWN = "unknown"
MAX_DEPTH = 8


def number(value) -> float | int | None:
    """The value if it is a finite number (not a bool, not an int too large for a float),
    else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return value if math.isfinite(value) else None
    except OverflowError:  # a 400-digit integer in a hand-edited file
        return None


def readable(raw) -> dict:
    """metrics.json's content with every number field a number or None, `stopped` a bool and
    `device` a string or None; other fields as they are. Anything but a dict reads as {}."""
    if not isinstance(raw, dict):
        return {name: None for name in NUMBERS} | {"stopped": False, "device": None}
    out = {key: _json_safe(value) for key, value in raw.items()}
    out |= {name: number(raw.get(name)) for name in NUMBERS}
    out["stopped"] = raw.get("stopped") is True
    device = raw.get("device")
    out["device"] = device if isinstance(device, str) and DEVICE.fullmatch(device) else None
    return out


def _json_safe(value, depth: int = 0):
    """NaN, infinities and too-large integers as None, inside lists and dicts too (strict
    JSON readers refuse them in `aecore runs --json`); nothing nested deeper than a run's
    metrics ever are."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return number(value)
    if isinstance(value, list | dict) and depth >= MAX_DEPTH:
        return None
    if isinstance(value, list):
        return [_json_safe(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v, depth + 1) for k, v in value.items()}
    return value


def variational(m: dict) -> dict | None:
    """A VAE's stored KL figures (codestats.VariationalStats' fields) if all read as numbers."""
    per_dim = m.get("kl_per_dim")
    if not (isinstance(per_dim, list) and all(number(v) is not None for v in per_dim)):
        return None
    stored = {name: number(m.get(name)) for name in VARIATIONAL}
    return None if None in stored.values() else stored | {"kl_per_dim": per_dim}


def text(value, spec: str = "", unknown: str = UNKNOWN) -> str:
    """The number formatted with spec, or `unknown` when it is not one."""
    if (value := number(value)) is None:
        return unknown
    try:
        return format(value, spec)
    except ValueError:  # "d" for a float
        return format(value, "g")
