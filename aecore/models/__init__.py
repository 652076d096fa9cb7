"""The model registry: one file per model, built by name from a TrainConfig."""

from __future__ import annotations

from aecore.models.base import PIXELS, Autoencoder
from aecore.models.conv import Conv
from aecore.models.deep import Deep
from aecore.models.dense import Dense

REGISTRY: dict[str, type[Autoencoder]] = {"dense": Dense, "deep": Deep, "conv": Conv}


def build(name: str, latent_dim: int) -> Autoencoder:
    return REGISTRY[name](latent_dim)


__all__ = ["PIXELS", "REGISTRY", "Autoencoder", "build"]
