"""`aecore-bench`: timings of the engine and of the served app (it starts the app, so it
lives outside the engine package)."""
