"""Explore: a 2-D map of the codes (the test digits, the test digits over training, or all
70,000 digits); colour it, select regions, click a digit or an empty place, shade what the
classifier says of each place, and see how far the map can be trusted."""

import numpy as np
import streamlit as st

from aecore.analysis import trust
from aecore.core import metrics
from aecore.core.errors import NoSnapshots
from aecore.figures import gallery, plots, tables
from aecore.figures.mapplots import COLOURINGS
from aecore.runs import pipeline
from dashboard import (
    background,
    cached,
    derive,
    downloads,
    links,
    mapview,
    server,
    session,
    widgets,
)

MAX_SHOWN = 60
MAX_GRID = 1_000  # digits in the selection's PNG
NEAREST = 8

st.title("Explore the latent map")
run = session.require_run()
data = session.dataset_of(run)
noun, test_size = data.nouns, len(data.test_x)


def caption_of(i: int, kind: str, names: list[str], labels: np.ndarray, error: float) -> str:
    where = f"train #{i - test_size}" if kind == "all" and i >= test_size else f"#{i}"
    return f"{where} · {names[labels[i]]} · {error:.3f}"


def show_pairs(indices: list[int], v: mapview.View, names: list[str], width: int = 116,
               marked: set[int] = frozenset()) -> None:
    """Digits beside their reconstructions, one block of HTML; ✓ before the `marked` ones."""
    pairs = mapview.thumbnails(run, "all" if v.kind == "all" else "test").pairs(indices)
    st.html(gallery.html_grid(pairs, [("✓ " if i in marked else "")
                                      + caption_of(i, v.kind, names, v.labels, p.error)
                                      for i, p in zip(indices, pairs, strict=True)], width))


def show_neighbours(i: int, v: mapview.View, names: list[str]) -> None:
    """A digit's nearest in code space beside its nearest on the map; ✓ marks the ones both
    lists share (what the map kept of its neighbourhood)."""
    near = trust.nearest(v.fitted, i, NEAREST)
    both = {int(j) for j in set(near.in_codes) & set(near.on_map)}
    last = (f" (the trained codes, and the map at the last snapshot, epoch "
            f"{v.frames.epochs[-1]:g})" if v.kind == "training" else "")
    st.caption(f"Its {NEAREST} nearest {noun.many}{last}: {len(both)} of them are near it both in "
               "code space and on the map (✓).")
    left, right = st.columns(2)
    for column, title, indices in ((left, "in code space", near.in_codes),
                                   (right, "on the map", near.on_map)):
        with column:
            st.markdown(f"**Nearest {title}**")
            show_pairs([int(j) for j in indices], v, names, width=96, marked=both)


def map_table(v: mapview.View):
    """Called on a download's click only: the trust check reads and verifies a stored file."""
    errors = mapview.colour_values(run, v, "error")
    return downloads.map_table(run, v.fitted.embedding, v.labels, errors,
                               mapview.predictions(run, v), mapview.stored_trust(run, v))


def selection_downloads(chosen: list[int], v: mapview.View) -> None:
    """Made on the click (a lasso reruns this part of the page: it stays quick)."""
    if len(chosen) > links.MAX_LINKED_DIGITS:
        st.caption(f"The page's link keeps the first {links.MAX_LINKED_DIGITS:,} selected "
                   f"{noun.many}; the downloads hold them all.")
    codes = v.fitted.codes.numpy()
    gridded = chosen[:MAX_GRID]
    a, b = st.columns(2)
    with a:
        downloads.button("Selection (CSV)", lambda: tables.csv_text(tables.selection_table(
            map_table(v), chosen, codes)), f"aecore-{run.run_id}-selection.csv",
            downloads.CSV, "dl_selection_csv")
    with b:
        downloads.button(f"Selection (PNG, {len(gridded):,} {noun.many} | reconstructions)",
                         lambda: tables.pairs_png(*mapview.pair_images(run, v.kind, gridded)),
                         f"aecore-{run.run_id}-selection.png", downloads.PNG, "dl_selection_png")


def clicked_for(kind: str) -> str:
    """The map of all images, when a link asks for it, waits for a click (the largest fit
    the server makes); the test map meanwhile."""
    if kind != "all" or not st.session_state.get(links.UNCONFIRMED_MAP) or pipeline.is_stored(
            derive.derived_job("embed_all", run).folder):
        return kind
    everything = len(data.test_x) + len(data.train_x)
    st.info(f"This link opens the map of all {everything:,} {noun.many}, which is not fitted "
            "for this run yet (the largest map the server fits): this is the map of the test "
            f"{noun.many} until you ask for it.")
    if st.button(f"Fit the map of all {everything:,} {noun.many}", key="fit_all_map"):
        confirm_map()
        st.rerun()
    return "test"


def confirm_map() -> None:
    st.session_state[links.UNCONFIRMED_MAP] = False


@st.fragment
def interact(v: mapview.View, colour: str, shade: bool, head_ready: bool) -> None:
    """The map and what a selection shows: a lasso reruns only this part of the page."""
    names = cached.test_set(run).names
    fig = mapview.figure(run, v, colour, shade, head_ready)
    if "map" not in st.session_state:  # a fresh chart (back from another page): none picked
        st.session_state["map_picked"] = []
    event = st.plotly_chart(fig, key="map", on_select="rerun",
                            selection_mode=("points", "box", "lasso"))
    points = event.selection.points if event and event.selection else []
    picked = [int(p["customdata"]) for p in points
              if p.get("customdata") is not None and int(p["customdata"]) >= 0]
    places = [(p["x"], p["y"]) for p in points
              if p.get("customdata") is not None and int(p["customdata"]) < 0]
    if picked != st.session_state.get("map_picked", []) or places:  # a new choice on the map
        st.session_state["map_picked"] = picked
        links.select_digits(picked)
    chosen = [i for i in links.selected_digits() if i < len(v.labels)]
    if chosen and not picked:  # the link's selection, or the one kept while away
        left, right = st.columns([5, 1])
        left.caption("This selection came with the page's link, or was kept while you were on "
                     "another page: select on the map to change it.")
        if right.button("Clear the selection", key="clear_selection"):
            links.select_digits([])
            st.rerun(scope="fragment")
    if chosen:
        shown = chosen[:MAX_SHOWN]
        more = f" (the first {MAX_SHOWN} shown)" if len(chosen) > MAX_SHOWN else ""
        what = noun.one if len(chosen) == 1 else noun.many
        st.subheader(f"{len(chosen):,} selected {what}{more}: original | reconstruction")
        counts = np.bincount(v.labels[chosen], minlength=len(names))
        st.caption("Labels in the selection: " + ", ".join(
            f"{names[c]}: {n}" for c, n in enumerate(counts) if n))
        show_pairs(shown, v, names)
        selection_downloads(chosen, v)
        if len(chosen) == 1:
            show_neighbours(chosen[0], v, names)
    elif places:
        x, y = places[0]
        st.subheader(f"What lives at ({x:.2f}, {y:.2f})")
        st.image(plots.to_uint8(mapview.decode_place(run, v, x, y)), width=168,
                 caption="decoded from the blend of the 8 nearest codes")


with widgets.errors_shown():
    names = cached.test_set(run).names
    a, b = st.columns([2, 3])
    kinds = mapview.kinds(data)
    kind = a.radio("Map of", list(kinds), key="map_kind", persist_state=session.KEEP,
                   format_func=kinds.get, on_change=confirm_map)
    colour = b.radio("Colour by", list(COLOURINGS), key="colour", persist_state=session.KEEP,
                     horizontal=True, format_func=COLOURINGS.get)
    head = cached.stored_head(run)
    shade = st.toggle("Shade the map by what the classifier says of each place",
                      key="regions", persist_state=session.KEEP,
                      disabled=head is None or kind == "training",
                      help=f"Each place's code is the blend of its nearest {noun.many}' codes "
                           "(as a click decodes it); the shade is the classifier's answer for it. "
                           "Train a classifier on the Classifier page first.")
    try:
        v = mapview.view(run, clicked_for(kind))
    except NoSnapshots as exc:
        st.info(f"No map over training: {exc}. This is the map of the test {noun.many}.")
        v = mapview.view(run, "test")

    if v.waiting and v.state == "running":
        st.info("UMAP is fitting a map per snapshot of training in the background; this is "
                f"the map of the test {noun.many} meanwhile, swapped when they are ready.")
    elif v.state == "running":
        st.info(f"UMAP is fitting the map of {kinds[v.kind]} in the background; this is the "
                "PCA map meanwhile, swapped when UMAP is ready.")
    summary = None
    if colour == "correct" and not data.labelled:
        st.info(f"{data.nouns.name} has no labels, so nothing is right or wrong: colouring by "
                "label.")
        colour = "label"
    elif colour == "correct" and head is None:
        st.info("No classifier is trained for this run yet (see the Classifier page): "
                "colouring by label.")
        colour = "label"
    if colour == "trust" and v.kind == "all":
        st.info(f"Trust is measured on the map of the test {noun.many} and over training: "
                "colouring by label.")
        colour = "label"
    elif colour == "trust" and v.kind == "test":
        ready = v.final and background.follow(
            server.tasks(), derive.derived_job("map_trust", run)) == "ready"
        if ready:
            summary = cached.map_trust(run).summary
        else:
            st.info("The map's trust is measured once its UMAP map is ready: colouring by "
                    "label meanwhile.")
            colour = "label"

    method = "UMAP" if v.final else "PCA"
    k = run.config.latent_dim
    line = (f"{len(v.labels):,} {noun.many}, {method} of their {k}-d codes (k={k}) · 2-D 5-NN "
            f"label accuracy {metrics.text(v.knn_accuracy_2d, '.3f', 'not measured (no labels)')}.")
    if v.kind == "training" and len(v.frames.epochs) == 1:
        line = (f"The {test_size:,} test {noun.many} at the one moment of training that was "
                f"kept (epoch {v.frames.epochs[0]:g}): 2-D 5-NN accuracy "
                f"{metrics.text(v.knn_accuracy_2d, '.3f', 'not measured')}.")
    elif v.kind == "training":
        acc = v.frames.knn_accuracy_2d
        line = (f"The {test_size:,} test {noun.many} at {len(v.frames.epochs)} moments of "
                f"training, from {v.frames.epochs[0]:g} to epoch {v.frames.epochs[-1]:g} "
                f"(0.05 is 5 % into the first epoch), each layout started from the one before. "
                f"Press Play, or drag the epoch slider. 2-D 5-NN accuracy "
                f"{metrics.text(acc[0], '.3f')} at the first, {metrics.text(acc[-1], '.3f')} at "
                "the last.")
    elif v.kind == "all":
        line += (f" Index 0 to {test_size - 1:,} are the test {noun.many}, then the "
                 f"{len(data.train_x):,} training {noun.many}.")
    place = "" if v.kind == "training" else ", or an empty place to decode it"
    st.caption(f"{line} Click {noun.with_article} to see its neighbours{place}; the box and "
               "lasso tools (top right) select a region.")
    if colour == "label" and len(data.label_names) > plots.LEGEND_MAX:
        st.caption(f"{len(data.label_names):,} classes share {len(plots.WIDE_PALETTE)} "
                   "colours, without a legend: hover a point for its class.")
    if summary is not None and summary.collapsed:
        st.warning(f"Only {summary.distinct_codes:.0%} of the {noun.many} have a code of their "
                   "own: "
                   "the codes collapsed, so neighbourhoods are ties and the map's trust "
                   "figures mean nothing for this run.")
    if summary is not None:
        st.caption(f"**Map trust**: for each {noun.one}, the share of its 15 nearest {noun.many} "
                   f"in code space that are also among its 15 nearest on the map (red: torn "
                   f"from its neighbourhood). Mean {summary.neighbours_kept_15:.3f} · "
                   f"trustworthiness {summary.trustworthiness:.3f} · continuity "
                   f"{summary.continuity:.3f} (scikit-learn, 2,000 {noun.many}).")
    elif colour == "trust":
        st.caption(f"**Map trust** of each frame: the share of each {noun.one}'s 15 nearest in "
                   "code space (at that moment) also among its 15 nearest on that frame's map.")

    downloads.button("The map (CSV)", lambda: tables.csv_text(map_table(v)),
                     f"aecore-{run.run_id}-map-{v.kind}.csv", downloads.CSV, "dl_map")
    interact(v, colour, shade and head is not None and v.kind != "training", head is not None)

    with st.expander("Decode any place of the map"):
        lo, hi = v.fitted.embedding.min(0), v.fitted.embedding.max(0)
        hi = np.maximum(hi, lo + 1e-3)  # a map of dead codes is a point: sliders need a span
        c1, c2 = st.columns(2)
        x = c1.slider("x", float(lo[0]), float(hi[0]), float((lo[0] + hi[0]) / 2), key="place_x")
        y = c2.slider("y", float(lo[1]), float(hi[1]), float((lo[1] + hi[1]) / 2), key="place_y")
        st.image(plots.to_uint8(mapview.decode_place(run, v, x, y)), width=140,
                 caption=f"decoded at ({x:.2f}, {y:.2f})")
