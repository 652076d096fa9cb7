"""A deeper dense autoencoder: 784-256-128-k and its mirror."""

from torch import nn

from aecore.models.base import PIXELS, Autoencoder


def deep_encoder() -> nn.Sequential:  # [B, 784] -> features [B, 128]
    return nn.Sequential(nn.Linear(PIXELS, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU())


def deep_decoder(latent_dim: int) -> nn.Sequential:  # [B, k] -> logits [B, 784]
    return nn.Sequential(
        nn.Linear(latent_dim, 128), nn.ReLU(),
        nn.Linear(128, 256), nn.ReLU(),
        nn.Linear(256, PIXELS),
    )


class Deep(Autoencoder):
    def __init__(self, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.encoder = nn.Sequential(*deep_encoder(), nn.Linear(128, latent_dim))
        self.decoder = deep_decoder(latent_dim)
