"""Typed errors of the engine. Each message is one sentence a user can act on."""


class AecoreError(Exception):
    """Base of every error the engine raises on purpose."""


class InvalidConfig(AecoreError, ValueError):
    """A setting is out of range or unknown."""


class DatasetUnavailable(AecoreError):
    """The dataset is neither on disk nor downloadable."""


class DatasetExists(AecoreError):
    """A dataset of that name is stored already."""


class DatasetCorrupt(AecoreError):
    """A dataset file on disk is truncated or altered."""


class CacheCorrupt(AecoreError):
    """A cached artefact failed its checksum or could not be parsed."""


class RunNotFound(AecoreError, KeyError):
    """No cached run has this id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class TrainingDiverged(AecoreError):
    """The loss became NaN or infinite."""


class InvalidImage(AecoreError, ValueError):
    """An uploaded or drawn image cannot be used."""


class EmptyImage(InvalidImage):
    """The image holds no ink."""


class CacheWriteFailed(AecoreError):
    """The cache could not be written (disk full, read-only folder ...); nothing was changed."""


class OutOfMemory(AecoreError):
    """Training ran out of memory."""


class StaleFormat(CacheCorrupt):
    """Written by another format version: ignored, never misread, and left in place."""


class WorkerDied(AecoreError):
    """A worker process ended without finishing its request (killed, or out of memory)."""


class MissingExtra(AecoreError):
    """An optional dependency is not installed; the message names the pip command."""


class ClusterUnavailable(AecoreError):
    """No Ray cluster answers at the address given, or it lacks the device asked for."""


class NoSnapshots(AecoreError):
    """The run kept no test codes during training (trained before they were kept)."""


def by_name(name: str) -> type[AecoreError]:
    """The error class called `name`, for errors that cross a process boundary by name."""
    found = globals().get(name)
    if isinstance(found, type) and issubclass(found, AecoreError):
        return found
    return AecoreError
