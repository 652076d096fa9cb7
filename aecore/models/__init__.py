"""The model registry: one file per model, built by name from a TrainConfig."""

from __future__ import annotations

from aecore.data import datasets
from aecore.models.base import MNIST_SHAPE, PIXELS, Autoencoder, as_pixels
from aecore.models.conv import Conv
from aecore.models.deep import Deep
from aecore.models.dense import Dense
from aecore.models.vae import VAE, ConvVAE

REGISTRY: dict[str, type[Autoencoder]] = {
    "dense": Dense, "deep": Deep, "conv": Conv, "vae": VAE, "vae-conv": ConvVAE}


def build(name: str, latent_dim: int, beta: float = 1.0,
          shape: tuple[int, ...] = MNIST_SHAPE) -> Autoencoder:
    model = REGISTRY[name]
    if model.variational:
        return model(latent_dim, beta, shape=shape)
    return model(latent_dim, shape=shape)


def from_config(cfg, shape: tuple[int, ...] | None = None) -> Autoencoder:
    """The untrained model of a TrainConfig, for its dataset's image shape (read from the
    dataset's files unless given: a Ray task has the data but not the files)."""
    return build(cfg.model, cfg.latent_dim, cfg.beta,
                 shape or datasets.image_shape(cfg.dataset))


__all__ = ["PIXELS", "REGISTRY", "Autoencoder", "as_pixels", "build", "from_config"]
