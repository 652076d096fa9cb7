"""Stored runs: the cache, the cached pipeline (train, codes, maps, heads), maps over
training and the rows that compare runs."""
