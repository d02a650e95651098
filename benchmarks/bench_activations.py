"""Cost of each activation function, next to the cost of a small convolution.

The source calls softmax, ELU and swish "computationally expensive". This prints the
time per million elements of each NumPy activation (cnnguide.activations) and of the
Keras version, and, for scale, one 3x3 convolution with 8 filters over a batch of
28x28 images with the same number of output values.

Run: ``python -m benchmarks activations``
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402

N = 1_000_000
REPEATS = 5


def _best(fn) -> float:
    fn()  # warm-up (and tracing, for TF)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    import keras

    from cnnguide import activations as A

    rng = np.random.default_rng(0)
    x = rng.standard_normal(N).astype(np.float32)
    xt = keras.ops.convert_to_tensor(x)
    keras_fns = {
        "sigmoid": keras.activations.sigmoid,
        "tanh": keras.activations.tanh,
        "relu": keras.activations.relu,
        "leaky_relu": keras.activations.leaky_relu,
        "elu": keras.activations.elu,
        "swish": keras.activations.swish,
        "softmax": lambda t: keras.activations.softmax(keras.ops.reshape(t, (-1, 2))),
    }
    print(f"{'activation':12s} {'NumPy ms/1M':>12s} {'Keras ms/1M':>12s}")
    for name, k_fn in keras_fns.items():
        if name == "softmax":
            np_time = _best(lambda: A.softmax(x.reshape(-1, 2)))
        else:
            np_time = _best(lambda: A.get_activation(name).fn(x))
        k_time = _best(lambda: np.asarray(k_fn(xt)))
        print(f"{name:12s} {1e3 * np_time:12.2f} {1e3 * k_time:12.2f}")

    images = rng.random((N // (28 * 28 * 8) + 1, 28, 28, 1), dtype=np.float32)
    conv = keras.layers.Conv2D(8, 3, padding="same")
    conv.build(images.shape)
    c_time = _best(lambda: np.asarray(conv(images)))
    print(
        f"{'conv 3x3x8':12s} {'':>12s} {1e3 * c_time:12.2f}   "
        f"({len(images)} images of 28x28, {len(images) * 28 * 28 * 8:,} outputs)"
    )


if __name__ == "__main__":
    main()
