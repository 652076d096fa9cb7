"""Plotly figures, image galleries and tables for the pages and the report."""
