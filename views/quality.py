"""Data quality: the images whose labels the run's codes doubt, worst first, to mark right or
wrong; the odd images and near-duplicates; the clusters the codes form against the labels."""

import numpy as np
import streamlit as st

from aecore.core import metrics
from aecore.figures import mapplots
from aecore.runs import marks
from dashboard import (
    background,
    cached,
    derive,
    doubts,
    downloads,
    links,
    server,
    session,
    widgets,
)

GRID = 6         # images a row
VERDICTS = {"wrong": "wrong", "right": "right"}  # the given label

st.title("What is wrong with the data")
run = session.require_run()


def show_on_map(split: str, index: int) -> None:
    """Explore's test map with this image picked (and its neighbours shown); a training
    image on the map of all images, where it follows the test ones."""
    test_size = len(cached.dataset(run.config.dataset).test_x)
    st.session_state["map_kind"] = "test" if split == "test" else "all"
    st.session_state[links.UNCONFIRMED_MAP] = False  # this click asks for the map
    # the same dataset and run there, whatever the page switch does to the sidebar's widgets
    st.session_state["activate_dataset"] = run.config.dataset
    st.session_state["activate_run"] = run.run_id
    links.select_digits([index if split == "test" else test_size + index])
    st.switch_page("views/explore.py")


def verdict_key(split: str, index: int) -> str:
    return f"verdict_{run.config.dataset}_{split}_{index}"


def record(split: str, index: int, suggested: int, shown: str | None) -> None:
    """A verdict's widget changed: kept for the dataset at once (every session sees it),
    unless another session changed it since this page showed it."""
    with widgets.errors_shown():
        now = doubts.verdicts(run.config.dataset).get((split, index))
        if doubts.verdict_of(now) != shown:
            st.toast(f"Another session changed the verdict on #{index}: it is shown now.")
            return
        given = int(labels_of(split)[index])
        corrected = doubts.correction(given, suggested,
                                      st.session_state.get(verdict_key(split, index)))
        marks.mark(run.config.dataset, split, index, corrected)


def labels_of(split: str) -> np.ndarray:
    data = cached.dataset(run.config.dataset)
    return (data.test_y if split == "test" else data.train_y).numpy()


def suspects_part(split: str, names: list[str]) -> None:
    noun = data.nouns
    if not doubts.stored(run, split):
        size = len(labels_of(split))
        how = ("the run's classifier head (trained on the training split) and the labels of "
               "each image's 10 nearest training codes" if split == "test" else
               "heads cross-validated over 5 folds (none sees the label it scores) and the "
               "labels of each image's 10 nearest other codes")
        st.caption(f"Each of the {size:,} {split} {noun.many} is scored by {how}, then "
                   "ranked by cleanlab's label quality. It takes a few seconds to a minute, "
                   "once per run.")
        if st.button(f"Find suspect labels in the {split} split", type="primary",
                     key=f"find_{split}"):
            with st.spinner("Scoring every label ..."):
                doubts.suspects(run, split)
            st.rerun()
        return
    found = doubts.suspects(run, split)
    shown = st.slider("Suspects shown", 6, 96, 24, step=6, key="suspects_shown",
                      persist_state=session.KEEP)
    st.caption(f"The {shown} most doubtful of {len(found.order):,} {split} {noun.many}, worst "
               f"first: cleanlab's {found.method.replace('_', ' ')} score (0 surely wrong, 1 "
               "surely right) on out-of-sample probabilities. Each shows the image and its "
               "reconstruction, its given → suggested class, and buttons to say whether its "
               "given label is wrong or right.")
    verdicts = doubts.verdicts(run.config.dataset)
    top = found.order[:shown]
    pictures = doubts.pairs(run, split, top)
    for start in range(0, len(top), GRID):
        columns = st.columns(GRID)
        for column, i, picture in zip(columns, top[start:start + GRID],
                                      pictures[start:start + GRID], strict=False):
            i = int(i)
            given, suggested = int(found.labels[i]), int(found.suggested[i])
            with column:
                st.image(picture, width="stretch")
                mark = verdicts.get((split, i))
                st.text(f"#{i} · {names[given]} → {names[suggested]}\n"
                        f"score {found.scores[i]:.4f}" + doubts.kept_text(mark, names))
                key = verdict_key(split, i)
                # the stored verdict, each time: another session may have changed it
                shown = st.session_state[key] = doubts.verdict_of(mark)
                st.segmented_control("Verdict", list(VERDICTS), format_func=VERDICTS.get,
                                     key=key, label_visibility="collapsed",
                                     on_change=record, args=(split, i, suggested, shown))
                if st.button("On the map", key=f"map_{split}_{i}", icon=":material/map:"):
                    show_on_map(split, i)


def marks_part() -> None:
    kept = marks.checked(run.config.dataset)
    st.subheader("Your verdicts")
    if not kept:
        st.caption(f"None yet for {data.nouns.name}: mark a suspect above. Verdicts are kept "
                   "per dataset, for everyone on this server.")
        return
    wrong = sum(m.wrong for m in kept)
    st.caption(f"{len(kept)} marked on {data.nouns.name}: {wrong} labels wrong (corrected to "
               f"the suggested class, or left out where it is the given one), "
               f"{len(kept) - wrong} right.")
    left, right = st.columns(2)
    with left:
        downloads.button("Corrections (CSV)", marks.csv_bytes(run.config.dataset),
                         f"{run.config.dataset}-label-corrections.csv", downloads.CSV,
                         "dl_corrections")
    these = (run.run_id, run.weights_id, kept)  # a result for these weights and these marks
    if right.button("Retrain the head with the corrections", key="retrain_head"):
        with st.spinner("Training a head on the corrected labels ..."):
            st.session_state["retrained"] = (these, marks.retrain(run, marks=kept))
    result = st.session_state.get("retrained")
    if result and result[0] == these:
        r = result[1]
        a, b = st.columns(2)
        a.metric("Test accuracy, the run's head", f"{r.before:.2%}")
        b.metric("Retrained on the corrected labels", f"{r.after:.2%}",
                 f"{(r.after - r.before) * 100:+.2f} pts")
        st.caption(f"{r.train_fixed} training and {r.test_fixed} test labels corrected; both "
                   "heads scored on the corrected test labels.")


def odd_part(split: str, names: list[str]) -> None:
    st.subheader("Odd images and near-duplicates")
    if not st.toggle("Find them", key=f"odd_{split}_{run.run_id}"):
        st.caption(f"The {data.nouns.many} least like any other (farthest from their 5th "
                   "nearest code), and the pairs whose codes nearly coincide, with their pixel "
                   "distance beside: 0 is the same image twice, more is a look-alike.")
        return
    with st.spinner("Measuring every code's neighbours ..."):
        found = doubts.odd(run, split)
    labels = labels_of(split)
    odd = found.odd[:18]
    st.image(doubts.plain_images(run, split, odd), width=72, caption=[
        f"#{i} {names[labels[i]]} · {d:.2f}" for i, d in zip(odd, found.odd_distance,
                                                              strict=False)])
    pairs = found.pairs[:12]
    st.image([np.hstack(doubts.plain_images(run, split, p)) for p in pairs], width=120,
             caption=[f"#{a} #{b} · code {c:.3f} · pixels {p:.3f}" for (a, b), c, p in zip(
                 pairs, found.pair_code_distance, found.pair_pixel_distance, strict=False)])


def clusters_part(names: list[str]) -> None:
    st.subheader("The clusters the codes form")
    job = derive.derived_job("clusters", run)
    progress = background.follow(server.tasks(), job, start_now=False)
    if progress != "ready":
        st.caption("scikit-learn's HDBSCAN on the run's UMAP map of the test images, against "
                   "their labels: adjusted Rand index, adjusted mutual information and the "
                   "clustering accuracy (each cluster read as its majority label).")
        if progress == "absent" and st.button("Find the clusters", key="find_clusters"):
            background.start(server.tasks(), job)
            st.rerun()
        elif progress == "running":
            st.info("Clustering the map (fitting it first if needed) ...")
        return
    result = doubts.clusters(run)
    c = result.clusters
    cols = st.columns(5)
    cols[0].metric("Clusters", c.n_clusters)
    cols[1].metric("Left as noise", f"{c.noise_share:.1%}")
    for col, name, value in zip(cols[2:], ("ARI", "AMI", "Clustering accuracy"),
                                (c.ari, c.ami, c.clustering_accuracy), strict=True):
        col.metric(name, metrics.text(None if np.isnan(value) else value, ".3f", "no labels"))
    colour = st.radio("Colour the map by", ["cluster", "label quality"] if data.labelled
                      else ["cluster"], horizontal=True, key="quality_colour",
                      persist_state=session.KEEP)
    if colour == "cluster":
        fig = mapplots.clusters_figure(result.embedding, c.assignment)
    elif doubts.stored(run, "test") and data.labelled:
        scores = doubts.suspects(run, "test").scores
        fig = mapplots.map_figure(result.embedding, labels_of("test"), names,
                                  mapplots.Colouring("quality", scores),
                                  title="Label quality (red: doubtful)")
    else:
        st.info("Find the suspect labels of the test split first.")
        return
    st.plotly_chart(fig, key="quality_map")


data = None
with widgets.errors_shown():
    data = cached.dataset(run.config.dataset)
    names = data.label_names
    split = st.radio("Images", ["test", "train"], horizontal=True, key="quality_split",
                     persist_state=session.KEEP,
                     format_func=lambda s: f"the {len(labels_of(s)):,} {s} {data.nouns.many}")
if data is None:  # the dataset cannot be read: said above
    st.stop()
if data.labelled:  # each part's error is its own: a damaged marks file hides only the marks
    with widgets.errors_shown():
        suspects_part(split, names)
    with widgets.errors_shown():
        marks_part()
else:
    st.info(f"{data.nouns.name} has no labels, so no label can be suspect: the odd images, "
            "near-duplicates and clusters still show.")
with widgets.errors_shown():
    odd_part(split, names)
with widgets.errors_shown():
    clusters_part(names)
