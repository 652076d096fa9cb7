"""A small convolutional autoencoder: 28x28 -> 14x14x16 -> 7x7x32 -> k, and back (any square
size divisible by 4, grey or colour, the same way).

Activations run channels_last: on a 2-core CPU oneDNN's convolutions (the transposed ones
above all) are about 1.5x faster in that layout than in NCHW (`aecore-bench`, train_conv).
"""

import torch
from torch import nn

from aecore.core.errors import InvalidConfig
from aecore.models.base import MNIST_SHAPE, Autoencoder


class ToChannels(nn.Module):
    """Pixels [B, H*W*C] as laid out in the dataset ([H, W, C]) -> [B, C, H, W]."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), *self.shape).permute(0, 3, 1, 2)


class FromChannels(nn.Module):
    """[B, C, H, W] -> pixels [B, H*W*C] in the dataset's layout."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).reshape(len(x), -1)


def _checked(shape: tuple[int, ...]) -> tuple[int, int]:
    """(channels, side / 4) of a square image whose side two stride-2 layers halve exactly."""
    side, channels = shape[0], shape[2] if len(shape) == 3 else 1
    if shape[0] != shape[1] or side % 4:
        raise InvalidConfig(f"the conv models need square images whose side is divisible by 4; "
                            f"these are {shape[0]}x{shape[1]}: use dense or deep, or add the "
                            "dataset again with --size 28 (or 32)")
    return channels, side // 4


def conv_features(shape: tuple[int, ...] = MNIST_SHAPE) -> int:
    return 32 * _checked(shape)[1] ** 2


def conv_encoder(shape: tuple[int, ...] = MNIST_SHAPE) -> nn.Sequential:  # [B, P] -> [B, F]
    channels, quarter = _checked(shape)
    return nn.Sequential(
        nn.Unflatten(1, (1, *shape)) if channels == 1 else ToChannels(shape),
        nn.Conv2d(channels, 16, 3, stride=2, padding=1), nn.ReLU(),  # [B, 16, H/2, W/2]
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),        # [B, 32, H/4, W/4]
        nn.Flatten(),
    )


def conv_decoder(latent_dim: int, shape: tuple[int, ...] = MNIST_SHAPE) -> nn.Sequential:
    channels, quarter = _checked(shape)  # [B, k] -> logits [B, P]
    return nn.Sequential(
        nn.Linear(latent_dim, 32 * quarter * quarter), nn.ReLU(),
        nn.Unflatten(1, (32, quarter, quarter)),
        nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(16, channels, 3, stride=2, padding=1, output_padding=1),
        nn.Flatten() if channels == 1 else FromChannels(),
    )


class Conv(Autoencoder):
    def __init__(self, latent_dim: int, shape: tuple[int, ...] = MNIST_SHAPE) -> None:
        super().__init__(latent_dim, shape)
        self.encoder = nn.Sequential(*conv_encoder(self.shape),
                                     nn.Linear(conv_features(self.shape), latent_dim))
        self.decoder = conv_decoder(latent_dim, self.shape)
