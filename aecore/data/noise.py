"""Masking noise for denoising autoencoders (Vincent et al. 2008): a share of pixels set to 0."""

from __future__ import annotations

import torch


def mask(pixels: torch.Tensor, share: float, generator: torch.Generator | None = None
         ) -> torch.Tensor:
    """float pixels [..., 784] (any shape) with about `share` of them set to 0, fresh each call;
    `pixels` itself is left as it is."""
    if share <= 0:
        return pixels
    keep = torch.rand(pixels.shape, generator=generator, device=pixels.device) >= share
    return pixels * keep

