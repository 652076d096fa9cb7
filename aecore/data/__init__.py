"""Images in: the datasets, drawings and uploads made digit-like, noise, jitter, canvas digits."""
