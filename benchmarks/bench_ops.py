"""conv2d and pool2d against scipy.signal.correlate2d, side by side in one run.

Target (issue "kernels"): cnnguide.ops.conv2d on a 512x512 image with a 3x3 and a 7x7
kernel within 3x of scipy.signal.correlate2d's time. Best of several repeats, so a busy
machine disturbs the ratio less than the absolute times.

    python benchmarks/bench_ops.py
"""

from __future__ import annotations

import time

import numpy as np
from scipy.signal import correlate2d

from cnnguide.ops import conv2d, conv2d_as_matmul, pool2d

TARGET_RATIO = 3.0


def best_time(function, repeats: int = 7) -> float:
    """Smallest wall-clock time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    rng = np.random.default_rng(0)
    image = rng.random((512, 512)).astype(np.float32)
    rows = []
    ok = True
    for k in (3, 7):
        kernel = rng.standard_normal((k, k)).astype(np.float32)
        ours = conv2d(image, kernel, padding="same")
        reference = correlate2d(image, kernel, mode="same")
        assert np.allclose(ours, reference, atol=1e-4), (
            "conv2d disagrees with correlate2d"
        )
        t_ours = best_time(lambda: conv2d(image, kernel, padding="same"))
        t_scipy = best_time(lambda: correlate2d(image, kernel, mode="same"))
        t_gemm = best_time(
            lambda: conv2d_as_matmul(image, kernel, padding="same"), repeats=3
        )
        ratio = t_ours / t_scipy
        ok &= ratio <= TARGET_RATIO
        rows.append((f"{k}x{k}", t_ours, t_scipy, t_gemm, ratio))
    print(
        f"conv2d on a 512x512 float32 image, 'same' padding (best of 7; target ratio <= {TARGET_RATIO:g})"
    )
    print(
        f"{'kernel':>6} {'conv2d ms':>10} {'scipy ms':>9} {'im2col ms':>10} {'ratio':>6}"
    )
    for name, t_ours, t_scipy, t_gemm, ratio in rows:
        print(
            f"{name:>6} {t_ours * 1e3:10.2f} {t_scipy * 1e3:9.2f} {t_gemm * 1e3:10.2f} {ratio:6.2f}"
        )
    t_pool = best_time(lambda: pool2d(image, 2))
    print(f"pool2d max 2x2 on 512x512: {t_pool * 1e3:.2f} ms")
    print("PASS" if ok else "FAIL: conv2d slower than 3x scipy")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
