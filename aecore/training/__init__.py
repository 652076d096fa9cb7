"""The training loop, encoding images to codes, and statistics of the codes."""
