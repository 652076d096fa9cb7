import threading

import pytest
import torch

from aecore.core.config import TrainConfig
from aecore.core.errors import InvalidConfig, TrainingDiverged
from aecore.models.base import Autoencoder, as_pixels
from aecore.training import loop

TINY = dict(latent_dim=8, epochs=3, batch_size=64, lr=1e-2)


def collect(cfg, data, stop=None):
    events = list(loop.run(cfg, data, stop, device="cpu"))
    return events, events[-1]


def test_events_and_loss_falls(tiny):
    events, done = collect(TrainConfig(**TINY), tiny)
    batches = [e for e in events if isinstance(e, loop.BatchEvent)]
    epochs = [e for e in events if isinstance(e, loop.EpochEvent)]
    assert isinstance(done, loop.DoneEvent) and not done.stopped
    assert len(batches) == 3 * 10  # 600 images / 64 -> 10 steps per epoch (last one short)
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert [b.step for b in batches] == list(range(1, 31))
    assert epochs[-1].test_loss < epochs[0].test_loss * 0.9
    assert done.history.batch_loss == [b.loss for b in batches]
    assert len(done.history.epochs) == 3


def test_same_seed_same_numbers(tiny):
    _, a = collect(TrainConfig(**TINY), tiny)
    _, b = collect(TrainConfig(**TINY), tiny)
    _, c = collect(TrainConfig(**{**TINY, "seed": 1}), tiny)
    assert a.history.batch_loss == b.history.batch_loss
    assert a.history.batch_loss != c.history.batch_loss


def test_stop_flag_is_honoured_within_one_batch(tiny):
    stop = threading.Event()
    seen = []
    for event in loop.run(TrainConfig(**TINY), tiny, stop, device="cpu"):
        seen.append(event)
        if isinstance(event, loop.BatchEvent) and event.step == 12:
            stop.set()
    done = seen[-1]
    assert isinstance(done, loop.DoneEvent) and done.stopped
    batches = [e for e in seen if isinstance(e, loop.BatchEvent)]
    assert batches[-1].step == 12  # no batch ran after the flag
    assert done.epochs_done == 1


def test_non_finite_loss_raises(tiny, monkeypatch):
    real = Autoencoder.loss
    calls = {"n": 0}

    def poisoned(self, x, *args):
        calls["n"] += 1
        out = real(self, x, *args)
        return {**out, "loss": out["loss"] * float("nan")} if calls["n"] == 5 else out

    monkeypatch.setattr(Autoencoder, "loss", poisoned)
    with pytest.raises(TrainingDiverged, match="learning rate"):
        collect(TrainConfig(**TINY), tiny)


def test_as_pixels_scales_to_unit_range():
    x = torch.zeros(2, 28, 28, dtype=torch.uint8)
    x[0, 0, 0], x[1, 27, 27] = 255, 51
    px = as_pixels(x)
    assert px.shape == (2, 784) and px.dtype == torch.float32
    assert px[0, 0] == 1.0 and px[1, 783] == pytest.approx(0.2) and px.sum() == pytest.approx(1.2)


def test_pick_device():
    assert loop.pick_device("cpu").type == "cpu"
    assert loop.pick_device("auto").type in ("cpu", "cuda", "mps")


@pytest.mark.parametrize("cuda", [False, True])
def test_pick_device_refuses_what_this_machine_lacks(monkeypatch, cuda):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: int(cuda))
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert loop.pick_device("auto").type == ("cuda" if cuda else "cpu")
    refused = ["mps", "meta", "xla", "banana", "", "cuda:1"] + ([] if cuda else ["cuda"])
    for device in refused:
        with pytest.raises(InvalidConfig, match="not available on this machine: use auto, cpu"):
            loop.pick_device(device)
    if cuda:
        assert loop.pick_device("cuda:0") == torch.device("cuda", 0)


def test_a_stop_mid_epoch_keeps_the_last_finished_epoch(tiny):
    """The stored weights, curves and snapshots all describe the end of epoch 1, so that a
    stopped run's test loss (and a VAE's KL, computed from its weights) agree."""
    stop = threading.Event()
    first_epoch_steps = None
    for event in loop.run(TrainConfig(**{**TINY, "model": "vae"}), tiny, stop, device="cpu"):
        if isinstance(event, loop.BatchEvent):
            first_epoch_steps = first_epoch_steps if event.epoch == 2 else event.step
            if event.epoch == 2 and event.step == first_epoch_steps + 2:
                stop.set()
    done = event
    assert done.stopped and done.epochs_done == 1
    assert len(done.history.batch_loss) == len(done.history.batch_kl) == first_epoch_steps
    assert all(s.epoch <= 1 for s in done.snapshots)
    test = loop.evaluate(done.model, tiny.test_x)
    assert test.reconstruction == pytest.approx(done.history.epochs[0]["test_loss"], rel=1e-6)
    assert test.kl == pytest.approx(done.history.epochs[0]["test_kl"], rel=1e-6)
