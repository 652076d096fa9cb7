"""A deeper dense autoencoder: 784-256-128-k and its mirror."""

from torch import nn

from aecore.models.base import PIXELS, Autoencoder


class Deep(Autoencoder):
    def __init__(self, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.encoder = nn.Sequential(
            nn.Linear(PIXELS, 256), nn.ReLU(),
            nn.Linear(256, 128), nn.ReLU(),
            nn.Linear(128, latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, 128), nn.ReLU(),
            nn.Linear(128, 256), nn.ReLU(),
            nn.Linear(256, PIXELS),
        )

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)
