"""Seconds per epoch of the Keras blog's dense autoencoder against ours, in one sitting.

The Keras side needs TensorFlow, which the project does not install: make a venv for it
(python3.11 -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu==2.21.0), then run

    AECORE_DATA_DIR=../shared/datasets .venv/bin/python scripts/keras_baseline.py \
        --keras-python /tmp/tf/bin/python

Both sides train 784 -> 32 -> 784 on the 60,000 training digits and score the 10,000 test
digits every epoch (Keras: Adam, binary cross-entropy, batch 256, as on the blog; ours: the
default run). Rounds alternate the two; the first epoch of each side is left out (Keras
traces its graph then). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def keras_epochs(epochs: int) -> list[float]:
    """Runs in TensorFlow's interpreter: numpy and keras only."""
    import numpy as np

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    raw = os.path.join(os.environ["AECORE_DATA_DIR"], "MNIST", "raw")

    def images(name: str) -> np.ndarray:
        with open(os.path.join(raw, name), "rb") as f:
            data = np.frombuffer(f.read(), np.uint8, offset=16)
        return data.reshape(-1, 784).astype("float32") / 255.0

    x_train, x_test = images("train-images-idx3-ubyte"), images("t10k-images-idx3-ubyte")
    inputs = keras.Input(shape=(784,))
    codes = keras.layers.Dense(32, activation="relu")(inputs)
    outputs = keras.layers.Dense(784, activation="sigmoid")(codes)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    seconds: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    model.fit(x_train, x_train, epochs=epochs, batch_size=256, shuffle=True,
              validation_data=(x_test, x_test), verbose=0, callbacks=[Clock()])
    return seconds


def our_epochs(epochs: int) -> list[float]:
    from aecore.core.config import TrainConfig
    from aecore.data import datasets
    from aecore.training import loop

    dataset = datasets.load("mnist")
    return [event.seconds for event in loop.run(TrainConfig(epochs=epochs), dataset, device="cpu")
            if isinstance(event, loop.EpochEvent)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras-python", help="an interpreter with tensorflow-cpu installed")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--keras", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.keras:
        print(json.dumps(keras_epochs(args.epochs)))
        return
    if not args.keras_python:
        parser.error("--keras-python is needed: an interpreter with tensorflow-cpu installed")
    keras_side, ours = [], []
    for _ in range(args.rounds):
        done = subprocess.run([args.keras_python, __file__, "--keras", "--epochs",
                               str(args.epochs)], capture_output=True, text=True, check=True)
        keras_side += json.loads(done.stdout.strip().splitlines()[-1])[1:]
        ours += our_epochs(args.epochs)[1:]
    keras_s, ours_s = statistics.median(keras_side), statistics.median(ours)
    print(json.dumps({"keras_seconds_per_epoch": round(keras_s, 3),
                      "ours_seconds_per_epoch": round(ours_s, 3),
                      "keras_over_ours": round(keras_s / ours_s, 2),
                      "epochs_each": len(ours)}))


if __name__ == "__main__":
    sys.exit(main())
