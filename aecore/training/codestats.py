"""What a run's codes hold: a VAE's KL per dimension and prior samples, codes' sparsity.

Pages draw these; they are computed here so they are tested without a browser.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from aecore.models import Autoencoder, as_pixels
from aecore.models.vae import VAE, kl_per_dimension
from aecore.training import latents
from aecore.training.loop import EVAL_CHUNK

# A unit whose KL stays under this (nats, averaged over the test set) carries no information
# about the input: "active units" (Burda et al. 2016 use a variance test to the same end).
ACTIVE_KL = 0.01
# A code value counts as near zero below this share of the largest |value| in the codes: a
# scale-free cut, since an L1 penalty can shrink codes while the decoder grows to match.
NEAR_ZERO_SHARE = 0.01
# A VAE's codes have a scale, the prior's N(0, 1): a posterior mean below a tenth of its
# standard deviation is near zero (a collapsed unit's means are all about there).
PRIOR_NEAR_ZERO = 0.1


class VariationalStats(NamedTuple):
    kl_per_dim: list[float]     # nats per image, test mean, one per latent dimension
    kl: float                   # their sum
    active_units: int           # dimensions with KL above ACTIVE_KL
    reconstruction: float       # mean per-pixel BCE of the mean's decoding
    negative_elbo: float        # nats per image: summed BCE of a posterior sample, plus KL

    def to_dict(self) -> dict:
        return self._asdict()


@torch.inference_mode()
def variational_stats(model: VAE, images: torch.Tensor, seed: int = 0) -> VariationalStats:
    """uint8 [N, 28, 28] test images through a VAE. The ELBO takes one posterior sample per
    image (seeded), the usual single-sample estimate; beta is 1 in it whatever trained."""
    gen = torch.Generator().manual_seed(seed)
    kl_sum = torch.zeros(model.latent_dim, dtype=torch.float64)
    bce_mean = bce_sample = 0.0
    for start in range(0, len(images), EVAL_CHUNK):
        x = as_pixels(images[start:start + EVAL_CHUNK])
        mu, logvar = model.posterior(x)
        kl_sum += kl_per_dimension(mu, logvar).sum(0).double()
        z = mu + torch.randn(mu.shape, generator=gen) * (0.5 * logvar).exp()
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        bce_mean += bce(model.decode(mu), x, reduction="sum").item()
        bce_sample += bce(model.decode(z), x, reduction="sum").item()
    n = len(images)
    per_dim = (kl_sum / n).tolist()
    kl = sum(per_dim)
    return VariationalStats(per_dim, kl, sum(v > ACTIVE_KL for v in per_dim),
                            bce_mean / (n * model.pixels), bce_sample / n + kl)


def prior_samples(model: Autoencoder, count: int, seed: int = 0) -> torch.Tensor:
    """Images decoded from z ~ N(0, I): float [count, 28, 28] in [0, 1]."""
    z = torch.randn(count, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    return latents.decode(model, z)


def by_information(kl_per_dim: list[float]) -> list[int]:
    """The latent dimensions, most informative (highest KL) first."""
    return sorted(range(len(kl_per_dim)), key=lambda d: -kl_per_dim[d])


def traversal(model: Autoencoder, code: torch.Tensor, dims: list[int], offsets: torch.Tensor
              ) -> torch.Tensor:
    """One row per dimension: `code` [k] with that dimension moved by each of `offsets` [V],
    decoded: float [len(dims), V, 28, 28]. Every model's traversal: a VAE's in standard
    deviations of its N(0, 1) prior, which read the same on every dimension; any other's in
    the spread of that dimension's codes."""
    moved = code.repeat(len(dims), len(offsets), 1)        # [D, V, k]
    for row, dim in enumerate(dims):
        moved[row, :, dim] += offsets
    images = latents.decode(model, moved.reshape(-1, len(code)))
    return images.reshape(len(dims), len(offsets), *model.shape)


def interpolation(model: Autoencoder, start: torch.Tensor, end: torch.Tensor, steps: int
                  ) -> torch.Tensor:
    """float [steps, 28, 28]: the codes on the straight line from `start` to `end` [k]
    (both ends included), decoded."""
    t = torch.linspace(0, 1, steps)[:, None]
    return latents.decode(model, (1 - t) * start + t * end)


class Sparsity(NamedTuple):
    near_zero: float            # share of all code values that are near zero
    threshold: float            # the |value| below which a value is near zero
    active_share: list[float]   # per dimension: share of digits where it is not near zero
    mean_abs: list[float]       # per dimension: mean |value|


def sparsity(codes: torch.Tensor, threshold: float | None = None) -> Sparsity:
    """codes float [N, k] -> how many of their values are near zero (below `threshold`, by
    default NEAR_ZERO_SHARE of the largest |value|), overall and per unit."""
    magnitude = codes.abs()
    if threshold is None:
        threshold = NEAR_ZERO_SHARE * float(magnitude.max()) if len(codes) else 0.0
    active = magnitude > threshold
    return Sparsity(float(1.0 - active.float().mean()) if len(codes) else 0.0, threshold,
                    active.float().mean(0).tolist(), magnitude.mean(0).tolist())
