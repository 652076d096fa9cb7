"""Work off the request path: the training queue, worker processes, sweeps, Ray."""
