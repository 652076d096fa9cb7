"""Train: sliders for the config, a background job, a live loss chart, stop, the queue."""

import math
import time

import streamlit as st

from aecore import lab, plots
from aecore.config import MODELS, TRAIN_SIZE, TrainConfig
from aecore.errors import AecoreError
from dashboard import state

# Every redraw costs the trainer: on 2 cores the page's reruns and Chromium take CPU from
# torch's threads. Measured with `aecore bench` (app over CLI seconds per epoch): polling every
# 1 s and redrawing every 1 s, 1.8x; every 2 s and 4 s, 1.2x.
POLL_SECONDS = 2.0
CHART_SECONDS = 4.0
st.title("Train an autoencoder")
st.caption("The classic recipe is a dense 784 → 32 → 784 autoencoder; choose the code size, "
           "the model and the epochs, and watch the loss fall.")

left, mid, right = st.columns(3)
latent = left.slider("Latent size k", 2, 128, 32, key="latent_dim")
epochs = mid.slider("Epochs", 1, 100, 10, key="epochs")
model = right.selectbox("Model", MODELS, key="model",
                        format_func={"dense": "dense (784-k-784, the classic)",
                                     "deep": "deep (784-256-128-k)",
                                     "conv": "conv (small CNN)"}.get)
with st.expander("Advanced"):
    a, b, c = st.columns(3)
    batch = a.select_slider("Batch size", [32, 64, 128, 256, 512, 1024], 128, key="batch_size")
    lr = b.number_input("Peak learning rate (one-cycle, Adam)", 1e-5, 1.0, TrainConfig.lr,
                        format="%.4f", step=1e-3, key="lr")
    seed = c.number_input("Seed", 0, 2**31 - 1, 0, key="seed")

try:
    cfg = TrainConfig(dataset=st.session_state.get("dataset", "mnist"), model=model,
                      latent_dim=latent, epochs=epochs, batch_size=batch, lr=float(lr),
                      seed=int(seed))
except AecoreError as exc:
    st.error(str(exc))
    st.stop()

queue = state.training_queue()
steps_per_epoch = math.ceil(TRAIN_SIZE / cfg.batch_size)
cached = lab.find_complete(cfg.key())

job_id = st.session_state.get("job_id")
if job_id is None or queue.status(job_id) is None:
    current = queue.current()  # a refreshed tab finds the running job again
    job_id = st.session_state["job_id"] = current.job_id if current else None
status = queue.status(job_id) if job_id else None
just_trained = cached is not None and status is not None and status.run_id == cached.run_id

# A session's active run changes only by its own choice or its own training: it activates
# the runs of the jobs it submitted, never those of a job it only watches.
own_jobs = st.session_state.setdefault("own_jobs", set())
if cached is None:
    if st.button("Train", type="primary", key="train"):
        job_id = st.session_state["job_id"] = queue.submit(cfg, "auto")
        own_jobs.add(job_id)
        status = queue.status(job_id)
elif not just_trained:
    st.success(f"This config was trained before (run {cached.run_id}): its stored curves are "
               "below, nothing is retrained.")
    if st.button("Use this run", type="primary", key="train"):
        st.session_state["activate_run"] = cached.run_id
        st.rerun()


def show(status) -> None:
    if status.state == "queued":
        st.info(f"Waiting for the trainer: place {status.position} in the queue "
                "(one training at a time on this server).")
    elif status.state == "running":
        left = status.seconds_left
        eta = f", about {left:.0f} s left" if left is not None else ""
        st.progress(min(status.fraction, 1.0),
                    text=f"Epoch {max(status.epoch, 1)} of {status.config.epochs}{eta}")
    elif status.state == "failed":
        st.error(f"Training failed: {status.message}")
    elif status.state in ("stopped", "cancelled"):
        st.warning(status.message)
    else:
        st.success(status.message)
    if status.config != cfg:
        c = status.config
        st.caption(f"Showing the job for {c.model}, k={c.latent_dim}, {c.epochs} epochs.")
    st.plotly_chart(loss_chart(status), key="loss_chart")


def loss_chart(status):
    """The job's loss figure, rebuilt at most every CHART_SECONDS while it runs (an unchanged
    figure is cheap to send again)."""
    last = st.session_state.get("loss_chart_cache")
    now = time.monotonic()
    if status.finished or last is None or last[0] != status.job_id or now - last[1] >= \
            CHART_SECONDS:
        figure = plots.loss_figure(status.batch_steps, status.batch_losses, status.epochs,
                                   math.ceil(TRAIN_SIZE / status.config.batch_size))
        last = st.session_state["loss_chart_cache"] = (status.job_id, now, figure)
    return last[2]


@st.fragment(run_every=POLL_SECONDS)
def live(job_id: str) -> None:
    status = queue.status(job_id)
    if st.button("Stop", key="stop"):
        queue.stop(job_id)
    show(status)
    if status.finished:
        st.rerun()


if status is not None and status.finished and status.run_id and status.job_id in own_jobs:
    # The finished job's run becomes the active run, once per job.
    own_jobs.discard(status.job_id)
    st.session_state["activate_run"] = status.run_id
    state.runs_listing.clear()
    state.start_map(state.run(status.run_id))
    st.rerun()
if status is not None and not status.finished:
    live(job_id)
elif status is not None and status.config == cfg and (cached is None or just_trained):
    show(status)
elif cached is not None:
    st.plotly_chart(plots.loss_figure(list(range(1, len(cached.history.batch_loss) + 1)),
                                      cached.history.batch_loss, cached.history.epochs,
                                      steps_per_epoch), key="loss_chart")
    m = cached.metrics
    st.caption(f"Test BCE {m['test_loss']:.4f} · train BCE {m['train_loss']:.4f} · "
               f"{m['seconds_per_epoch']:.2f} s per epoch on {m['device']}")
