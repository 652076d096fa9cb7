"""A small convolutional autoencoder: 28x28 -> 14x14x16 -> 7x7x32 -> k, and back.

Activations run channels_last: on a 2-core CPU oneDNN's convolutions (the transposed ones
above all) are about 1.5x faster in that layout than in NCHW (`aecore-bench`, train_conv).
"""

from torch import nn

from aecore.models.base import Autoencoder


def conv_encoder() -> nn.Sequential:  # [B, 784] -> features [B, 1568]
    return nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),   # [B, 16, 14, 14]
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),  # [B, 32, 7, 7]
        nn.Flatten(),
    )


def conv_decoder(latent_dim: int) -> nn.Sequential:  # [B, k] -> logits [B, 784]
    return nn.Sequential(
        nn.Linear(latent_dim, 32 * 7 * 7), nn.ReLU(),
        nn.Unflatten(1, (32, 7, 7)),
        nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1),  # [B, 1, 28, 28]
        nn.Flatten(),
    )


class Conv(Autoencoder):
    def __init__(self, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.encoder = nn.Sequential(*conv_encoder(), nn.Linear(32 * 7 * 7, latent_dim))
        self.decoder = conv_decoder(latent_dim)
