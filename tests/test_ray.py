"""The Ray backend on a local Ray instance, on the real MNIST: each config trains as a Ray
task whose files land in this process's cache; a failed task is reported and the others land."""

from __future__ import annotations

import pytest
import torch

from aecore.core.config import TrainConfig
from aecore.runs import compare, pipeline, store
from aecore.services.ray_backend import run_ray
from aecore.services.sweep import DERIVED, derived_left

pytestmark = [pytest.mark.mnist, pytest.mark.slow]


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray", reason="the cluster extra: pip install -e '.[cluster]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
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
