"""aecore: the engine of the latent-space lab (autoencoders on MNIST). Never imports streamlit."""

__version__ = "0.1.0"

# Part of every cache key: bump it when a stored artefact's meaning or layout changes,
# so that a cache written by an older version is ignored instead of misread.
FORMAT_VERSION = 1
