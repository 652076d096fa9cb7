"""The interface every autoencoder shares: encode, decode (to logits), loss."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

PIXELS = 28 * 28


class Autoencoder(nn.Module):
    """Inputs are float pixels in [0, 1], shape [B, 784]; decode returns logits [B, 784]."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # [B, 784] -> [B, k]
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:  # [B, k] -> logits [B, 784]
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Pixels in [0, 1], [B, 784]."""
        return torch.sigmoid(self(x))

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Mean per-pixel binary cross-entropy, the scale of the Keras blog's numbers."""
        logits = self(x)
        return {"loss": F.binary_cross_entropy_with_logits(logits, x)}
