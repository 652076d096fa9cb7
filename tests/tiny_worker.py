"""`python -m tests.tiny_worker`: aecore's worker process, serving the tiny test data."""

from aecore.data import datasets
from aecore.services import worker
from tests.conftest import make_tiny, serve_tiny

if __name__ == "__main__":
    datasets.load = serve_tiny(make_tiny())
    worker.main()
