"""A deeper dense autoencoder: 784-256-128-k and its mirror."""

from torch import nn

from aecore.models.base import MNIST_SHAPE, Autoencoder


def deep_encoder(pixels: int) -> nn.Sequential:  # [B, P] -> features [B, 128]
    return nn.Sequential(nn.Linear(pixels, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU())


def deep_decoder(latent_dim: int, pixels: int) -> nn.Sequential:  # [B, k] -> logits [B, P]
    return nn.Sequential(
        nn.Linear(latent_dim, 128), nn.ReLU(),
        nn.Linear(128, 256), nn.ReLU(),
        nn.Linear(256, pixels),
    )


class Deep(Autoencoder):
    def __init__(self, latent_dim: int, shape: tuple[int, ...] = MNIST_SHAPE) -> None:
        super().__init__(latent_dim, shape)
        self.encoder = nn.Sequential(*deep_encoder(self.pixels), nn.Linear(128, latent_dim))
        self.decoder = deep_decoder(latent_dim, self.pixels)
