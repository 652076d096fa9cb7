"""The ground floor: settings and their checks, typed errors, paths, readable numbers."""
