"""One drawn or uploaded image read by a run: the Draw page's chain (predict, how unusual it
is, its nearest test codes, its place on the map) and `aecore predict`'s answer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from aecore.analysis import projection, trust
from aecore.analysis.classify import Head, NeighbourVote
from aecore.core.config import DATASETS
from aecore.runs.pipeline import Run
from aecore.training import latents

NEAREST = 8  # test codes shown beside a drawing


@dataclass(frozen=True)
class Prediction:
    digit: int
    probabilities: list[float]  # one per class
    image: np.ndarray           # float32 [28, 28] (the run's image shape): what the model saw
    reconstruction: np.ndarray  # float32, the same shape
    code: torch.Tensor          # float32 [k]


def predict(run: Run, head: Head | NeighbourVote, image) -> Prediction:
    """A drawn or uploaded image (PIL image or array) -> class, probabilities, reconstruction.
    A built-in dataset's run sees it as MNIST's digits were made (scaled into a 20-pixel box,
    centred by mass); an added dataset's as its own images were read (scaled whole)."""
    from aecore.data import folders
    from aecore.data.preprocess import to_mnist

    shape = run.model.shape
    if run.config.dataset in DATASETS:
        pixels = torch.from_numpy(to_mnist(image))
    else:
        paper = 255  # an uploaded file's transparent parts: white, as a viewer shows them
        if not isinstance(image, Image.Image):  # the canvas: light ink on a transparent ground
            image, paper = Image.fromarray(np.asarray(image)), 0
        pixels = torch.from_numpy(folders.as_dataset_image(image, shape[0], len(shape) == 3,
                                                           paper) / np.float32(255.0))
    code = latents.encode(run.model, pixels.reshape(1, -1).float())
    probs = head.probabilities(code)[0]
    recon = latents.decode(run.model, code)[0].numpy()
    return Prediction(int(probs.argmax()), [round(float(p), 6) for p in probs],
                      pixels.reshape(shape).numpy(), recon, code[0])


@dataclass(frozen=True)
class Reading:
    guess: Prediction
    novelty: trust.Novelty   # how far its code is from every test code, against their spacing
    nearest: np.ndarray      # int64 [NEAREST]: the nearest test codes, nearest first
    place: np.ndarray        # float32 [1, 2]: where it lands on the map


def read(guess: Prediction, test_codes: torch.Tensor, own_distances: np.ndarray,
         fitted: projection.Map) -> Reading:
    """Everything the Draw page shows of one predicted image, given the run's test codes,
    their `trust.own_nearest_distances` and the map it is placed on (fitted on those codes)."""
    code = guess.code[None]
    idx, _ = projection.exact_knn(code, test_codes, NEAREST)
    return Reading(guess, trust.novelty(code, test_codes, own_distances), idx[0].numpy(),
                   projection.place(code, fitted))
