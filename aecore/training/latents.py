"""Encode images with a run's encoder, in batches, without gradients."""

from __future__ import annotations

from typing import NamedTuple

import torch

from aecore.data.noise import mask
from aecore.models import Autoencoder, as_pixels

BATCH = 4_096


@torch.inference_mode()
def encode(model: Autoencoder, images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 28, 28] (any image shape; or float [N, 784] in [0, 1]) -> float32 codes [N, k]
    on the CPU."""
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(images), BATCH):
        chunk = images[start:start + BATCH].to(device)
        pixels = as_pixels(chunk) if chunk.dtype == torch.uint8 else chunk.reshape(len(chunk), -1)
        out.append(model.encode(pixels).float().cpu())
    return torch.cat(out) if out else torch.empty(0, model.latent_dim)


@torch.inference_mode()
def decode(model: Autoencoder, codes: torch.Tensor) -> torch.Tensor:
    """float codes [N, k] -> images float [N, *model.shape] ([N, 28, 28] for MNIST) in [0, 1]
    on the CPU."""
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(codes), BATCH):
        chunk = codes[start:start + BATCH].to(device, torch.float32)
        out.append(torch.sigmoid(model.decode(chunk)).cpu())
    images = torch.cat(out) if out else torch.empty(0, model.pixels)
    return images.reshape(-1, *model.shape)


def reconstruction_error(model: Autoencoder, images: torch.Tensor) -> torch.Tensor:
    """Mean per-pixel BCE of each image: float [N], a chunk at a time (float copies of a whole
    added dataset would be 16 times its uint8 size)."""
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), BATCH):
            chunk = images[start:start + BATCH]
            recon = decode(model, encode(model, chunk)).reshape(len(chunk), -1)
            out.append(torch.nn.functional.binary_cross_entropy(
                recon.clamp(1e-7, 1 - 1e-7), as_pixels(chunk), reduction="none").mean(1))
    return torch.cat(out) if out else torch.empty(0)


class Denoised(NamedTuple):
    noisy: torch.Tensor   # float [N, 28, 28]: the input with its masked pixels
    output: torch.Tensor  # float [N, 28, 28]: what the model made of it


def denoise(model: Autoencoder, images: torch.Tensor, share: float, seed: int = 0) -> Denoised:
    """float images [N, 28, 28] in [0, 1] masked as in training (seeded), then reconstructed."""
    gen = torch.Generator().manual_seed(seed)
    noisy = mask(images.reshape(len(images), -1).float(), share, gen)
    output = decode(model, encode(model, noisy))
    return Denoised(noisy.reshape(-1, *model.shape), output)
