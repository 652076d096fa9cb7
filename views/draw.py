"""Draw: a digit (or a piece of clothing) drawn or uploaded is classified, reconstructed, and
placed on the map."""

import numpy as np
import streamlit as st
import torch
from streamlit_drawable_canvas import st_canvas

from aecore.analysis import trust
from aecore.core.errors import AecoreError, EmptyImage
from aecore.data import datasets
from aecore.data.preprocess import load_image
from aecore.figures import plots
from aecore.figures.mapplots import map_figure
from aecore.runs import drawing
from aecore.training import latents
from dashboard import background, cached, derive, server, session, widgets

RECOMMENDATION = (
    "**conv, k = 32, 10 epochs.** A drawing is slanted, thick or thin in ways MNIST's digits "
    "are not. The conv model's convolutions see a stroke wherever it is; the dense codes move "
    "more when a stroke shifts or thickens. The drawing head is an MLP trained on the codes of "
    "the training digits and of jittered copies (slant, rotation, stroke width), scored on "
    "2,000 canvas-style digits drawn from 14 fonts and synthetic strokes, never MNIST. The "
    "README's Drawings paragraph has the figures measured when this advice was written.")
SCORES_SHOWN = 8
noun = datasets.nouns(st.session_state.get("dataset", "mnist"))  # the sidebar's
st.title(f"Draw {noun.drawn}")
run = session.require_run()
with widgets.errors_shown():
    data = cached.dataset(run.config.dataset)
    if not (data.drawable and data.labelled):
        shape = "x".join(map(str, data.image_shape[:2])) + (" colour" if len(
            data.image_shape) == 3 else " grey")
        st.info(f"Draw reads grey 28x28 images with labels, as MNIST's are; {data.nouns.name} "
                f"holds {shape} images{'' if data.labelled else ' without labels'}. Pick MNIST "
                "or Fashion-MNIST in the sidebar to draw.")
        st.stop()
    names = data.label_names
    draw_col, result_col = st.columns([1, 2])

    with draw_col:
        width = st.slider("Stroke width", 5, 40, 20, key="stroke_width", persist_state=session.KEEP)
        version = st.session_state.setdefault("canvas_version", 0)
        canvas = st_canvas(stroke_width=width, stroke_color="#FFFFFF", background_color="#000000",
                           height=280, width=280, drawing_mode="freedraw",
                           return_image_data=True, key=f"canvas-{version}")
        if st.button("Clear", key="clear"):
            st.session_state["canvas_version"] = version + 1
            st.rerun()
        upload = st.file_uploader("... or upload a PNG or JPEG", type=["png", "jpg", "jpeg"],
                                  key="upload")

    head = cached.draw_head(run)
    if run.config.dataset == "mnist":  # measured on MNIST only
        with draw_col.expander("Which model reads drawings best?"):
            st.markdown(RECOMMENDATION)
            stored_for = run.run_id if head else None
            if scores := cached.drawing_scores(run.config.dataset, stored_for)[:SCORES_SHOWN]:
                st.caption("The drawing heads stored here, best first:")
                st.dataframe(
                    [{"run": s.label, "canvas digits read": s.canvas_accuracy,
                      "test digits read": s.test_accuracy} for s in scores],
                    hide_index=True, column_config={
                        name: st.column_config.NumberColumn(format="percent")
                        for name in ("canvas digits read", "test digits read")})
            else:
                st.caption("No drawing head is stored here yet: each run gets one the first "
                           "time something is drawn on it.")
    progress = "ready" if head else background.follow(server.tasks(), derive.draw_head_job(run))
    map_area = st.container()  # below the columns, filled once there is a drawing to place

    with result_col:
        try:
            source = (load_image(upload.getvalue()) if upload is not None
                      else canvas.image_data if canvas is not None else None)
            if source is None:
                raise EmptyImage("the canvas is empty")
            # Until the drawing head is trained (once per run), its nearest codes answer
            voter = None if head else cached.neighbour_vote(run)
            guess = drawing.predict(run, head.head if head else voter, source)
        except EmptyImage as exc:
            if upload is not None:
                st.warning("The uploaded image holds nothing to read (it is blank, all one "
                           f"colour, or its shape is too small): upload {noun.drawn}, light on "
                           "dark or dark on light, or remove the upload and draw on the canvas.")
            else:
                st.info(f"{str(exc)[:1].upper()}{str(exc)[1:]}. Draw {noun.drawn} on the black "
                        "canvas with the mouse, or upload an image.")
            st.stop()
        except AecoreError as exc:
            st.error(widgets.message(f"That image cannot be used: {exc}"))
            st.stop()

    with map_area:
        shown = derive.current_map(run) if head else derive.map_without_hurry(run)
    reading = drawing.read(guess, cached.codes(run)[1], cached.own_distances(run),
                           shown.result.map)
    odd, image = reading.novelty, guess.image
    with result_col:
        if head is None:
            doing = ("could not be trained (see above: Retry)" if progress == "failed" else
                     "is training in the background (once per run)")
            st.info(f"The drawing classifier for this run {doing}. Until it is ready, the "
                    f"answer is the vote of the drawing's "
                    f"{voter.k} nearest training {noun.many} in code space.")
        st.plotly_chart(plots.probability_bars(guess.probabilities, names), key="probabilities")
        farther = (f"its nearest test {noun.one} is {odd.distance:.2f} away in code space, "
                   f"farther than {odd.percentile:.1f} % of the test {noun.many} are from their "
                   "own nearest neighbour")
        if odd.collapsed:
            st.warning("This run's test codes have collapsed onto each other, so it cannot tell "
                       "how unusual a drawing is; the answer below is a guess.",
                       icon=":material/help:")
        elif odd.unlike:
            st.warning(f"This drawing is unlike every test {noun.one}: {farther} (the "
                       f"{trust.UNLIKE_PERCENTILE:.0f}th percentile is {odd.threshold:.2f}). The "
                       "answer below is a guess.", icon=":material/help:")
        st.markdown(f"### It looks like **{names[guess.digit]}** "
                    f"({max(guess.probabilities):.0%})")
        if head and (canvas := head.report.get("canvas_accuracy")) is not None:
            st.caption(f"This run's drawing head reads {canvas:.1%} of our canvas-style digits "
                       f"and {head.report['test_accuracy']:.1%} of {noun.name}'s test "
                       f"{noun.many}.")
        if not odd.unlike and not odd.collapsed:
            st.caption(f"{farther[:1].upper()}{farther[1:]} (beyond "
                       f"{trust.UNLIKE_PERCENTILE:.0f} %, a drawing is called unlike any "
                       f"{noun.one}).")
        a, b = st.columns(2)
        a.image(plots.side_by_side(image, guess.reconstruction), width=232,
                caption="what the model saw (28x28) | its reconstruction")
        near = reading.nearest
        labels = data.test_y.numpy()
        with b:
            st.caption(f"Its {len(near)} nearest test {noun.many} in the latent space")
            widgets.digits_grid(data.test_x.numpy()[near] / 255.0,
                                [f"{names[labels[i]]} #{i}" for i in near], width=56)
        if noise := run.config.noise:
            if st.toggle(f"Mask {noise:.0%} of its pixels, as this denoising run was trained",
                         key="draw_noise", persist_state=session.KEEP):
                cleaned = latents.denoise(run.model, torch.from_numpy(image)[None], noise)
                st.image(plots.strip(np.stack([cleaned.noisy[0].numpy(),
                                               cleaned.output[0].numpy(), image])),
                         width=348, caption="noisy drawing | the model's output | your drawing")

    fig = map_figure(shown.result.map.embedding, labels, names, marks=reading.place,
                     title=f"Your drawing on the {'UMAP' if shown.final else 'PCA'} map")
    map_area.plotly_chart(fig, key="draw_map")
