"""The Ray backend on a local Ray instance, on the real MNIST and on an added dataset: each
config trains as a Ray task whose files land in this process's cache; a failed task is reported
and the others land. The tasks see no data folder and an empty cache, as on another machine:
they train on what the caller ships them."""

from __future__ import annotations

import pytest
import torch

from aecore.core.config import TrainConfig
from aecore.runs import compare, pipeline, store
from aecore.services.ray_backend import run_ray
from aecore.services.sweep import DERIVED, derived_left

pytestmark = [pytest.mark.mnist, pytest.mark.slow]


@pytest.fixture(scope="module")
def ray_instance(tmp_path_factory):
    ray = pytest.importorskip("ray", reason="the cluster extra: pip install -e '.[cluster]'")
    elsewhere = tmp_path_factory.mktemp("another-machine")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={
        "env_vars": {"AECORE_DATA_DIR": str(elsewhere / "data"),
                     "AECORE_CACHE_DIR": str(elsewhere / "cache")}})
    yield ray
    ray.shutdown()


def test_ray_sweep_lands_runs_and_reports_a_failed_task(mnist, session_cache, monkeypatch,
                                                        ray_instance):
    # The session's cache: the heads' baselines computed by the other MNIST tests are reused.
    monkeypatch.setenv("AECORE_CACHE_DIR", str(session_cache))
    good = TrainConfig(latent_dim=32, epochs=1, seed=5)  # a run no other test trains
    refused = TrainConfig(latent_dim=16, epochs=1)
    object.__setattr__(refused, "latent_dim", 0)  # a config the task refuses, as another
    steps = []                                    # version of aecore on a cluster would
    outcomes = {o.config.key(): o for o in run_ray([refused, good], step=steps.append)}

    assert outcomes[refused.key()].run_id is None
    assert "latent size must be a whole number" in outcomes[refused.key()].error
    assert outcomes[good.key()].run_id == good.key()
    run = pipeline.load_run(good.key())  # written here, checksummed, complete
    assert run.metrics["epochs_done"] == 1 and not run.metrics["stopped"]
    assert run.metrics["test_loss"] < 0.2
    assert derived_left(pipeline.summary(good.key())) == 0
    [row] = [r for r in compare.report("mnist").rows if r.run_id == good.key()]
    assert row.mlp_accuracy > 0.85 and row.knn_accuracy_2d > 0.5
    assert len(steps) == 2 + len(DERIVED) and steps[0].startswith("failed")

    # Again: the trained config is reused (no task), its weights untouched.
    before = (store.run_dir(good.key()) / "weights.safetensors").read_bytes()
    steps.clear()
    [again] = run_ray([good], step=steps.append)
    assert again.run_id == good.key() and steps[0].startswith("reused")
    assert (store.run_dir(good.key()) / "weights.safetensors").read_bytes() == before
    x = mnist.test_x[:8].reshape(8, -1).float() / 255
    assert torch.equal(pipeline.load_run(good.key()).model.encode(x), run.model.encode(x))


def test_an_added_dataset_is_shipped_to_the_tasks(session_cache, monkeypatch, ray_instance,
                                                  tmp_path):
    from aecore.runs import imported
    from benchmarks.shapes import make_folder

    monkeypatch.setenv("AECORE_CACHE_DIR", str(session_cache))
    imported.add(make_folder(tmp_path / "shapes", per_class=30), "ray-shapes", size=32,
                 colour=True)
    try:
        cfg = TrainConfig(dataset="ray-shapes", model="conv", latent_dim=8, epochs=1)
        [outcome] = run_ray([cfg])
        assert outcome.error == "" and outcome.run_id == cfg.key()
        assert pipeline.load_run(cfg.key()).model.shape == (32, 32, 3)
    finally:
        imported.remove("ray-shapes")
