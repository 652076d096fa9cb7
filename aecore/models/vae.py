"""Variational autoencoders (Kingma & Welling 2014): the deep dense one and a conv one.

The encoder gives a diagonal Gaussian posterior q(z|x) = N(mu, exp(logvar)); training decodes a
sample of it, everything else (maps, heads, drawing) uses its mean, `encode`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from aecore.models.base import MNIST_SHAPE, Autoencoder
from aecore.models.conv import conv_decoder, conv_encoder, conv_features
from aecore.models.deep import deep_decoder, deep_encoder


class Posterior(nn.Module):
    """Features [B, d] -> mu, logvar [B, k] each."""

    def __init__(self, features: int, latent_dim: int) -> None:
        super().__init__()
        self.mean = nn.Linear(features, latent_dim)
        self.logvar = nn.Linear(features, latent_dim)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Clamped so one bad batch cannot overflow exp(): e^10 is a std of 148.
        return self.mean(h), self.logvar(h).clamp(-20.0, 10.0)


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) of each dimension in nats, [B, k]."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar)


class VAE(Autoencoder):
    variational = True

    def __init__(self, latent_dim: int, beta: float = 1.0,
                 shape: tuple[int, ...] = MNIST_SHAPE) -> None:
        super().__init__(latent_dim, shape)
        self.beta = beta
        self.body, width = self.make_body()
        self.posterior_head = Posterior(width, latent_dim)
        self.decoder = self.make_decoder()

    def make_body(self) -> tuple[nn.Module, int]:  # 784-256-128, as `deep`
        return deep_encoder(self.pixels), 128

    def make_decoder(self) -> nn.Module:
        return deep_decoder(self.latent_dim, self.pixels)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.posterior_head(self.body(x))

    def encode(self, x):
        return self.posterior(x)[0]

    def loss(self, x, target=None, l1=0.0):
        """`loss` is the negative ELBO with a beta-weighted KL, per pixel like the other models'
        BCE; `kl` is in nats per image. In eval mode the mean is decoded, so `reconstruction`
        is the BCE of the mean reconstruction, comparable with the other models."""
        target = x if target is None else target
        mu, logvar = self.posterior(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        reconstruction = F.binary_cross_entropy_with_logits(self.decode(z), target)
        kl = kl_per_dimension(mu, logvar).sum(1).mean()
        terms = {"reconstruction": reconstruction, "kl": kl,
                 "loss": reconstruction + self.beta * kl / self.pixels}
        if l1:
            terms["l1"] = mu.abs().sum(1).mean()
            terms["loss"] = terms["loss"] + l1 * terms["l1"]
        return terms


class ConvVAE(VAE):
    def make_body(self):  # 28x28 -> 14x14x16 -> 7x7x32, as `conv`
        return conv_encoder(self.shape), conv_features(self.shape)

    def make_decoder(self):
        return conv_decoder(self.latent_dim, self.shape)
