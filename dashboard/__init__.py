"""Streamlit glue shared by the pages: cached resources, the active run, error boxes."""
