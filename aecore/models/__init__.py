"""The model registry: one file per model, built by name from a TrainConfig."""

from __future__ import annotations

from aecore.models.base import PIXELS, Autoencoder, as_pixels
from aecore.models.conv import Conv
from aecore.models.deep import Deep
from aecore.models.dense import Dense
from aecore.models.vae import VAE, ConvVAE

REGISTRY: dict[str, type[Autoencoder]] = {
    "dense": Dense, "deep": Deep, "conv": Conv, "vae": VAE, "vae-conv": ConvVAE}


def build(name: str, latent_dim: int, beta: float = 1.0) -> Autoencoder:
    model = REGISTRY[name]
    return model(latent_dim, beta) if model.variational else model(latent_dim)


def from_config(cfg) -> Autoencoder:
    """The untrained model of a TrainConfig."""
    return build(cfg.model, cfg.latent_dim, cfg.beta)


__all__ = ["PIXELS", "REGISTRY", "Autoencoder", "as_pixels", "build", "from_config"]
