"""VAEs, denoising and sparse codes: configs, losses, training, their statistics and figures."""

import json

import pytest
import torch

from aecore import cli
from aecore.core.config import TrainConfig
from aecore.core.errors import InvalidConfig
from aecore.data.noise import mask
from aecore.figures import codeplots, plots
from aecore.models import build
from aecore.models.vae import kl_per_dimension
from aecore.runs import pipeline
from aecore.training import codestats, latents, loop

TINY_VAE = dict(latent_dim=8, epochs=2, batch_size=32, lr=0.01)


def test_old_run_ids_are_kept():
    # Run ids stored before beta, noise and l1 existed (the default run, a conv run).
    assert TrainConfig().key() == "6fab52393735"
    assert TrainConfig(model="conv").key() == "88cbc597a3d7"
    assert "beta" not in TrainConfig().to_dict() and "noise" not in TrainConfig().to_dict()


def test_new_settings_are_keyed_and_round_trip():
    keys = {TrainConfig(noise=0.2).key(), TrainConfig(l1=1e-4).key(), TrainConfig().key(),
            TrainConfig(model="vae").key(), TrainConfig(model="vae", beta=4).key()}
    assert len(keys) == 5
    assert TrainConfig(model="vae", beta=4).key() == TrainConfig(model="vae", beta=4.0).key()
    cfg = TrainConfig(model="vae-conv", beta=0.5, noise=0.3, l1=1e-3)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert cfg.variant == "β 0.5, noise 0.3, L1 0.001" and TrainConfig().variant == ""


@pytest.mark.parametrize("bad", [dict(beta=0.05, model="vae"), dict(beta=11, model="vae"),
                                 dict(beta=2.0), dict(noise=0.6), dict(noise=-0.1),
                                 dict(l1=-1e-4), dict(l1=float("nan")), dict(noise=True)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(InvalidConfig):
        TrainConfig(**bad)


def test_vae_samples_in_training_and_uses_the_mean_otherwise():
    torch.manual_seed(0)
    model = build("vae", 6, beta=2.0)
    x = torch.rand(16, 784)
    mu, logvar = model.posterior(x)
    assert torch.equal(model.encode(x), mu)
    model.eval()
    assert torch.equal(model.loss(x)["reconstruction"], model.loss(x)["reconstruction"])
    model.train()
    assert not torch.equal(model.loss(x)["reconstruction"], model.loss(x)["reconstruction"])
    terms = model.eval().loss(x)
    expected = terms["reconstruction"] + 2.0 * kl_per_dimension(mu, logvar).sum(1).mean() / 784
    assert torch.allclose(terms["loss"], expected)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    zero = torch.zeros(3, 4)
    assert torch.equal(kl_per_dimension(zero, zero), zero)
    assert (kl_per_dimension(torch.ones(3, 4), torch.full((3, 4), -1.0)) > 0).all()


def test_l1_adds_the_codes_sum_and_noise_masks_a_share():
    model = build("dense", 4)
    x = torch.rand(8, 784)
    terms = model.loss(x, l1=0.5)
    assert torch.allclose(terms["loss"], terms["reconstruction"]
                          + 0.5 * model.encode(x).abs().sum(1).mean())
    ones = torch.ones(200, 784)
    masked = mask(ones, 0.3, torch.Generator().manual_seed(0))
    assert abs(float((masked == 0).float().mean()) - 0.3) < 0.01
    assert torch.equal(ones, torch.ones(200, 784)) and mask(ones, 0.0) is ones


def test_a_vae_trains_and_reports_its_terms(tiny):
    cfg = TrainConfig(model="vae", beta=2.0, **TINY_VAE)
    events = list(loop.run(cfg, tiny, device="cpu"))
    epochs = [e for e in events if isinstance(e, loop.EpochEvent)]
    batches = [e for e in events if isinstance(e, loop.BatchEvent)]
    assert all(e.kl is not None and e.kl >= 0 for e in batches)
    assert all(e.kl > 0 and e.test_kl > 0 for e in epochs)
    done = events[-1]
    assert len(done.history.batch_kl) == len(batches)
    assert loop.History.from_dict(done.history.to_dict()) == done.history
    metrics = json.loads(pipeline.run_files(cfg, done, "cpu", tiny.test_x)["metrics.json"])
    assert len(metrics["kl_per_dim"]) == 8
    assert metrics["kl"] == pytest.approx(sum(metrics["kl_per_dim"]))
    assert metrics["active_units"] == sum(v > codestats.ACTIVE_KL for v in metrics["kl_per_dim"])
    assert metrics["reconstruction"] == pytest.approx(epochs[-1].test_loss, rel=1e-4)
    # the ELBO is in nats per image: the summed BCE (784 pixels) plus the KL
    assert metrics["negative_elbo"] > metrics["reconstruction"] * 784 * 0.9


def test_plain_runs_carry_no_kl(tiny):
    events = list(loop.run(TrainConfig(**TINY_VAE, noise=0.2, l1=1e-3), tiny, device="cpu"))
    assert all(e.kl is None for e in events if isinstance(e, loop.BatchEvent))
    assert events[-1].history.batch_kl == [] and "batch_kl" not in events[-1].history.to_dict()


def test_an_l1_penalty_makes_codes_sparser(tiny):
    near_zero = []
    for l1 in (0.0, 0.05):
        done = list(loop.run(TrainConfig(latent_dim=16, epochs=3, batch_size=32, lr=0.01,
                                           l1=l1), tiny, device="cpu"))[-1]
        near_zero.append(codestats.sparsity(latents.encode(done.model, tiny.test_x)).near_zero)
    assert near_zero[1] > near_zero[0] + 0.2, near_zero


def test_sparsity_counts_near_zero_values():
    codes = torch.tensor([[0.0, 1.0], [0.001, 2.0], [0.0, -3.0], [1.5, 0.0]])
    stats = codestats.sparsity(codes)
    assert stats.threshold == pytest.approx(0.03)
    assert stats.near_zero == pytest.approx(4 / 8)
    assert stats.active_share == [0.25, 0.75]
    assert codeplots.activity_bars(stats).data[0].x == ("1", "0")


def test_active_units_order_and_traversal():
    kl = [0.001, 2.0, 0.5, 0.02]
    assert codestats.by_information(kl) == [1, 2, 3, 0]
    model = build("vae", 4).eval()
    code = torch.zeros(4)
    grid = codestats.traversal(model, code, [1, 2], torch.linspace(-3, 3, 5))
    assert grid.shape == (2, 5, 28, 28)
    moved_only_dim_1 = latents.decode(model, torch.tensor([[0.0, -3.0, 0.0, 0.0]]))[0]
    assert torch.allclose(grid[0, 0], moved_only_dim_1)
    around = torch.tensor([0.5, 1.0, -1.0, 2.0])  # moved from its own value, not set
    row = codestats.traversal(model, around, [3], torch.tensor([-1.0, 0.0]))[0]
    assert torch.allclose(row[0], latents.decode(model, torch.tensor([[0.5, 1.0, -1.0, 1.0]]))[0])
    assert torch.allclose(row[1], latents.decode(model, around[None])[0])
    line = codestats.interpolation(model, code, around, 5)
    assert line.shape == (5, 28, 28)
    assert torch.allclose(line[0], latents.decode(model, code[None])[0])
    assert torch.allclose(line[-1], latents.decode(model, around[None])[0], atol=1e-6)
    samples = codestats.prior_samples(model, 6, seed=3)
    assert samples.shape == (6, 28, 28) and torch.equal(samples,
                                                        codestats.prior_samples(model, 6, seed=3))
    bars = codeplots.kl_bars(kl)
    assert "3 of 4 units active" in bars.layout.title.text


def test_denoise_masks_then_reconstructs():
    model = build("dense", 4).eval()
    images = torch.ones(5, 28, 28)
    out = latents.denoise(model, images, 0.5, seed=1)
    assert out.noisy.shape == out.output.shape == (5, 28, 28)
    assert 0.4 < float((out.noisy == 0).float().mean()) < 0.6


def test_the_loss_figure_splits_a_vaes_terms():
    epochs = [{"epoch": 1, "train_loss": 0.2, "test_loss": 0.19, "kl": 20.0, "test_kl": 21.0}]
    fig = plots.loss_figure([1, 2, 3], [0.3, 0.25, 0.2], epochs, 3, [10.0, 15.0, 20.0])
    names = {t.name for t in fig.data}
    assert {"batch KL", "test KL (end of epoch)", "test BCE (end of epoch)"} <= names
    assert fig.layout.yaxis2.title.text == "KL, nats per image"
    plain = plots.loss_figure([1, 2], [0.3, 0.2], [], 3)
    assert "yaxis2" not in plain.layout.to_plotly_json()


def test_train_cli_reports_a_vaes_terms(tiny, capsys):
    args = ["train", "--model", "vae", "--beta", "2", "--latent-dim", "4", "--epochs", "1",
            "--batch-size", "32", "--device", "cpu", "--json"]
    assert cli.main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"kl", "reconstruction", "active_units", "negative_elbo"} <= set(out)
    assert out["run_id"] == TrainConfig(model="vae", beta=2, latent_dim=4, epochs=1,
                                        batch_size=32).key()
    assert cli.main(["train", "--model", "dense", "--beta", "2", "--json"]) == 2
    assert "applies to vae and vae-conv" in capsys.readouterr().err


def test_a_vae_run_without_its_kl_metrics_gets_them_computed_again(tiny):
    cfg = TrainConfig(model="vae", **TINY_VAE)
    run = next(e for e in pipeline.train(cfg, device="cpu") if isinstance(e, pipeline.RunReady)).run
    stored = pipeline.variational_stats(run)
    damaged = pipeline.Run(run.run_id, run.config, run.model, run.history,
                      {k: v for k, v in run.metrics.items() if k != "kl_per_dim"},
                      run.weights_id)
    again = pipeline.variational_stats(damaged)
    assert again.kl_per_dim == pytest.approx(stored.kl_per_dim, rel=1e-5)
    assert pipeline.variational_stats(next(e for e in pipeline.train(TrainConfig(**TINY_VAE),
                                                           device="cpu")
                                      if isinstance(e, pipeline.RunReady)).run) is None


def test_a_vaes_sparsity_is_cut_at_the_priors_scale():
    collapsed = torch.randn(100, 3) * 0.02  # posterior means all near the prior's mean
    assert codestats.sparsity(collapsed).near_zero < 0.5  # relative cut: looks active
    assert codestats.sparsity(collapsed, codestats.PRIOR_NEAR_ZERO).near_zero == 1.0
