"""The interface every autoencoder shares: encode, decode (to logits), loss."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

PIXELS = 28 * 28
MNIST_SHAPE = (28, 28)


def as_pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B, H, W] (or [B, H, W, 3]) -> float [B, H*W(*3)] in [0, 1]."""
    return images.reshape(len(images), -1).float().div_(255.0)


class Autoencoder(nn.Module):
    """Inputs are float pixels in [0, 1], shape [B, P] (P = 784 for MNIST's 28x28, the pixels
    of `shape` in general); decode returns logits [B, P]."""

    variational = False

    def __init__(self, latent_dim: int, shape: tuple[int, ...] = MNIST_SHAPE) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.shape = tuple(shape)  # one image: [H, W] grey or [H, W, 3] colour
        self.pixels = math.prod(self.shape)

    # A model sets self.encoder and self.decoder (or overrides encode, as the VAEs do).
    encoder: nn.Module
    decoder: nn.Module

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # [B, 784] -> [B, k]
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:  # [B, k] -> logits [B, 784]
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Pixels in [0, 1], [B, 784]."""
        return torch.sigmoid(self(x))

    def loss(self, x: torch.Tensor, target: torch.Tensor | None = None,
             l1: float = 0.0) -> dict[str, torch.Tensor]:
        """The objective and its terms, each a mean over the batch.

        `reconstruction` is the mean per-pixel binary cross-entropy against `target` (x when
        None: a denoising run passes the clean image), the scale of the Keras blog's numbers.
        `l1` weighs each image's sum of |code|, added as the Keras blog's sparse autoencoder
        adds its activity regulariser (there 1e-4 with a dense k=32 model).
        """
        target = x if target is None else target
        codes = self.encode(x)
        reconstruction = F.binary_cross_entropy_with_logits(self.decode(codes), target)
        terms = {"reconstruction": reconstruction, "loss": reconstruction}
        if l1:
            terms["l1"] = codes.abs().sum(1).mean()
            terms["loss"] = reconstruction + l1 * terms["l1"]
        return terms
