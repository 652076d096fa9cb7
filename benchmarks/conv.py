"""The conv model's training speed: our loop against the plain eager loop on the same model."""

from __future__ import annotations

import statistics
import time

import torch

from aecore.core.config import TrainConfig
from aecore.data import datasets
from aecore.models import as_pixels, from_config
from aecore.training import loop

CONV_QUALITY_BAR = 0.080


def eager_epoch(model, opt, train_x: torch.Tensor, batch_size: int, gen: torch.Generator
                ) -> float:
    """One epoch the plain eager way on the same in-memory data: the model as built (NCHW),
    a shuffled copy sliced into batches, Adam. Seconds."""
    start = time.perf_counter()
    model.train()
    shuffled = train_x[torch.randperm(len(train_x), generator=gen)]
    for i in range(0, len(shuffled), batch_size):
        loss = model.loss(as_pixels(shuffled[i:i + batch_size]))["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def bench_train_conv(data: datasets.Dataset, epochs: int) -> dict:
    """Our loop's conv epochs and the eager loop's, alternated, at the same batch size."""
    cfg = TrainConfig(model="conv", epochs=epochs)
    torch.manual_seed(0)
    eager_model = from_config(cfg)
    eager_opt = torch.optim.Adam(eager_model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    ours, eager = [], []
    for event in loop.run(cfg, data, device="cpu"):
        if isinstance(event, loop.EpochEvent):
            ours.append(event.train_seconds)
            eager.append(eager_epoch(eager_model, eager_opt, data.train_x, cfg.batch_size, gen))
    fast, slow = statistics.median(ours), statistics.median(eager)
    return {"seconds_per_epoch": fast, "eager_seconds_per_epoch": slow, "speedup": slow / fast,
            "epochs_each": epochs}


def time_to_quality_conv(data: datasets.Dataset) -> dict:
    """Wall seconds of the default conv run until its test BCE first reaches the bar."""
    start = time.perf_counter()
    for event in loop.run(TrainConfig(model="conv"), data, device="auto"):
        if isinstance(event, loop.EpochEvent) and event.test_loss <= CONV_QUALITY_BAR:
            return {"time_to_quality_conv_s": time.perf_counter() - start,
                    "epochs_to_quality_conv": event.epoch}
    return {"time_to_quality_conv_s": None, "epochs_to_quality_conv": None}
