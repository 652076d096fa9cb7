"""Data: the datasets known by name, and a .zip of your own image folder made a dataset
every page works on."""

import streamlit as st

from aecore.data import datasets, folders
from aecore.figures import plots
from dashboard import cached, datasets_added, session, widgets

st.title("Data")
st.subheader("Datasets known by name")
known = datasets.known()
st.dataframe(datasets_added.known_table(known), hide_index=True)
st.caption("All are 28x28 grey images in MNIST's format, checked against their published md5 "
           "sums. MNIST and Fashion-MNIST are downloaded when first used; the others appear in "
           "the sidebar's picker once their files are here. Offline, put the files where the "
           "table says, or set AECORE_DATA_DIR (see the README).")
if missing := [k.name for k in known if k.folder is None]:
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    fetch = left.selectbox("Download", missing, format_func=datasets.label, key="known_fetch")
    if right.button("Download", icon=":material/download:"):
        with st.spinner(f"Downloading {datasets.label(fetch)} ..."), widgets.errors_shown():
            datasets_added.download(fetch)
            st.session_state["activate_dataset"] = fetch
            session.note(f"Downloaded {datasets.label(fetch)}. It is the active dataset now.")
            st.rerun()

st.subheader("Your own images")
st.caption("Zip a folder of images and add it here: one sub-folder per class "
           "(`shapes/circle/*.png`, `shapes/square/*.png` ...) gives labels, images straight in "
           "the folder make an unlabelled dataset, and `train/` and `test/` sub-folders give the "
           f"split (otherwise 1 in 7 of each class is held out for testing). PNG, JPEG, GIF, "
           f"BMP, WebP and TIFF are read; other files are skipped and listed. At least "
           f"{folders.MIN_IMAGES} images, at most {datasets_added.UPLOAD_MB} MB zipped.")

with st.form("add_dataset", clear_on_submit=False):
    upload = st.file_uploader("A .zip of an image folder", type=["zip"], key="dataset_zip",
                              max_upload_size=datasets_added.UPLOAD_MB)
    left, mid, right = st.columns([2, 2, 1])
    name = left.text_input("Name", max_chars=32, placeholder="shapes", key="dataset_name",
                           help="lower-case letters, digits, - or _, starting with a letter")
    size = mid.slider("Image size (pixels a side)", folders.SIZES[0], folders.SIZES[1], 28,
                      step=4, key="dataset_size",
                      help="every image is scaled to this square; 28 is MNIST's")
    colour = right.checkbox("Keep colour", key="dataset_colour")
    added = st.form_submit_button("Add the dataset", type="primary")

if added:
    if upload is None:
        st.error("Choose a .zip file first.")
    else:
        bar = st.progress(0.0, text="Reading the images ...")
        with widgets.errors_shown():
            manifest = datasets_added.add_upload(
                upload, name.strip(), size, colour,
                lambda done, total: bar.progress(done / total,
                                                 text=f"{done:,} of {total:,} files read"))
            st.session_state["activate_dataset"] = manifest.name
            session.note(f"Added {manifest.name}: {manifest.images:,} images. It is the "
                         "active dataset now; train a run on it from the Train page.")
            st.rerun()
        bar.empty()

found = datasets_added.listing()
if not found:
    st.info("No dataset added yet.")
    st.stop()

st.subheader("Datasets added")
SAMPLE_CLASSES = 30  # rows of samples shown (a dataset may hold up to 1,000 classes)


def remove_button(name: str) -> None:
    with st.popover("Remove ...", icon=":material/delete:"):
        st.text(f"Removes {name} and the {datasets_added.runs_on(name)} runs trained on it.")
        if st.button("Remove for good", type="primary", key=f"remove_{name}"):
            with widgets.errors_shown():
                removed = datasets_added.remove(name)
                if st.session_state.get("run_id") in removed.runs:  # gone with it, said here
                    st.session_state.pop("run_id")
                session.note(f"Removed {removed.name} and its {len(removed.runs)} runs.")
                st.rerun()


for listed in found:
    m = listed.manifest
    if m is None:
        with st.expander(f"{listed.name}: damaged"):
            st.text(listed.problem)
            remove_button(listed.name)
        continue
    with st.expander(f"{m.name}: {m.images:,} images", expanded=datasets_added.shown(m.name)):
        st.dataframe(datasets_added.summary_table(m), hide_index=True)
        if datasets_added.shown(m.name):
            with widgets.errors_shown():
                data = cached.dataset(m.name)
                names = data.label_names[:SAMPLE_CLASSES]
                rows = plots.class_samples(data.train_x.numpy(), data.train_y.numpy(), 12,
                                           len(names))
                st.image(rows, caption=[
                    widgets.plain(f"{n}: {m.train.get(n if m.labelled else '', 0):,} train, "
                                  f"{m.test.get(n if m.labelled else '', 0):,} test")
                    for n in names], width=min(12 * (m.size + 2), 700))
                if len(data.label_names) > SAMPLE_CLASSES:
                    st.caption(f"The first {SAMPLE_CLASSES} of {len(data.label_names):,} "
                               "classes.")
        else:
            st.caption("Use it to see samples of each class.")
        if m.skipped:
            st.caption(f"{m.skipped:,} files skipped (the first {len(m.skipped_files)} listed):")
            st.dataframe(datasets_added.skipped_table(m), hide_index=True, height=200)
        left, right = st.columns(2)
        if left.button("Use it", key=f"use_{m.name}"):
            st.session_state["activate_dataset"] = m.name
            st.rerun()
        with right:
            remove_button(m.name)
