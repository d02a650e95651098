"""cnnguide.kernels: every named kernel has the right values, shape, dtype and behaviour."""

import numpy as np
import pytest
from scipy import ndimage

from cnnguide import kernels as K
from cnnguide.ops import conv2d


def _step(vertical: bool, size: int = 16) -> np.ndarray:
    """An image with one straight edge: vertical (left dark, right bright) or horizontal."""
    image = np.zeros((size, size), dtype=np.float32)
    if vertical:
        image[:, size // 2 :] = 1.0
    else:
        image[size // 2 :, :] = 1.0
    return image


def test_registry_holds_every_named_kernel_with_a_description():
    expected = {
        "identity",
        "sobel_x",
        "sobel_y",
        "prewitt_x",
        "prewitt_y",
        "laplacian_4",
        "laplacian_8",
        "box_blur",
        "gaussian_3x3",
        "gaussian",
        "sharpen",
        "high_boost",
        "unsharp",
        "emboss",
        "gabor",
    }
    assert expected == set(K.KERNELS) == set(K.kernel_names())
    for name, (array, description) in K.KERNELS.items():
        assert array.dtype == np.float32 and array.ndim == 2, name
        assert array.shape[0] % 2 == 1 and array.shape[1] % 2 == 1, name
        assert isinstance(description, str) and 20 < len(description) < 140, name
        assert "\n" not in description
        assert not array.flags.writeable, name
        assert np.array_equal(K.get_kernel(name), array), name
        assert K.describe(name) == description


def test_get_kernel_returns_fresh_writable_copies_and_rejects_unknowns():
    kernel = K.get_kernel("sobel_x")
    kernel[0, 0] = 100.0
    assert K.KERNELS["sobel_x"][0][0, 0] == -1.0
    with pytest.raises(KeyError, match="choose one of"):
        K.get_kernel("sobel_z")
    with pytest.raises(TypeError, match="does not take"):
        K.get_kernel("sobel_x", size=5)


def test_source_values():
    assert K.sobel("x").tolist() == [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    assert K.prewitt("x").tolist() == [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]
    assert K.laplacian(4).tolist() == [[0, -1, 0], [-1, 4, -1], [0, -1, 0]]
    assert K.sharpen().tolist() == [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]
    assert K.high_boost().tolist() == [[-1, -1, -1], [-1, 9, -1], [-1, -1, -1]]
    assert K.emboss().tolist() == [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]
    assert (K.binomial_blur() * 16).tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
    # The 3x3 box blur has three rows of three (the source's has two).
    assert K.box_blur(3).shape == (3, 3) and np.allclose(K.box_blur(3), 1 / 9)


@pytest.mark.parametrize("family", [K.sobel, K.prewitt])
def test_x_kernels_see_vertical_edges_and_y_kernels_horizontal(family):
    vertical, horizontal = _step(True), _step(False)
    assert np.abs(conv2d(vertical, family("x"))).max() > 0
    assert np.abs(conv2d(horizontal, family("x"))).max() == 0
    assert np.abs(conv2d(horizontal, family("y"))).max() > 0
    assert np.abs(conv2d(vertical, family("y"))).max() == 0
    with pytest.raises(ValueError, match="direction"):
        family("diagonal")


def test_sobel_and_prewitt_cost_the_same():
    assert K.sobel("x").size == K.prewitt("x").size == 9


@pytest.mark.parametrize(
    "name", ["laplacian_4", "laplacian_8", "sobel_x", "sobel_y", "prewitt_x", "emboss"]
)
def test_derivative_kernels_are_zero_on_flat_images(name):
    flat = np.full((8, 8), 0.7, dtype=np.float32)
    expected = (
        0.7 if name == "emboss" else 0.0
    )  # emboss sums to 1: it keeps the grey level
    np.testing.assert_allclose(conv2d(flat, K.get_kernel(name)), expected, atol=1e-6)


def test_laplacian_is_zero_on_a_ramp_but_not_on_an_edge():
    ramp = np.tile(np.arange(10, dtype=np.float32), (10, 1))
    np.testing.assert_allclose(conv2d(ramp, K.laplacian(8)), 0.0, atol=1e-5)
    assert np.abs(conv2d(_step(True), K.laplacian(4))).max() == 1.0
    with pytest.raises(ValueError):
        K.laplacian(6)


@pytest.mark.parametrize("size", [1, 3, 5, 9])
def test_box_blur_any_odd_size(size):
    kernel = K.get_kernel("box_blur", size=size)
    assert kernel.shape == (size, size)
    assert np.isclose(kernel.sum(), 1.0) and np.allclose(kernel, kernel.flat[0])


@pytest.mark.parametrize("bad", [0, 2, 4, -3, 3.0, True])
def test_even_or_invalid_sizes_are_refused(bad):
    with pytest.raises(ValueError, match="odd"):
        K.box_blur(bad)


@pytest.mark.parametrize("size,sigma", [(3, 0.5), (5, 1.0), (None, 1.5), (9, 3.0)])
def test_gaussian_any_size_and_sigma(size, sigma):
    kernel = K.gaussian(size, sigma)
    expected_size = size or 2 * int(np.ceil(3 * sigma)) + 1
    assert kernel.shape == (expected_size, expected_size) and kernel.dtype == np.float32
    assert np.isclose(kernel.sum(), 1.0, atol=1e-6)
    assert np.allclose(kernel, kernel.T) and np.allclose(kernel, kernel[::-1])
    centre = expected_size // 2
    assert kernel[centre, centre] == kernel.max()
    # Separable: the outer product of a normalised 1-D Gaussian.
    profile = np.exp(-((np.arange(expected_size) - centre) ** 2) / (2 * sigma**2))
    np.testing.assert_allclose(
        kernel, np.outer(profile, profile) / profile.sum() ** 2, rtol=1e-5
    )
    with pytest.raises(ValueError, match="sigma"):
        K.gaussian(3, 0.0)


def test_gaussian_blur_matches_scipy_in_the_interior():
    image = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    ours = conv2d(image, K.gaussian(9, 1.5), padding="same")
    reference = ndimage.gaussian_filter(image, 1.5, truncate=4 / 1.5)
    np.testing.assert_allclose(ours[5:-5, 5:-5], reference[5:-5, 5:-5], atol=1e-5)


def test_unsharp_mask_equals_convolution_with_its_kernel():
    image = np.random.default_rng(1).random((24, 20)).astype(np.float32)
    for sigma, amount in [(1.0, 1.0), (2.0, 0.5), (0.8, 3.0)]:
        masked = K.unsharp_mask(image, sigma, amount)
        kernel = K.unsharp_kernel(sigma, amount)
        assert np.isclose(kernel.sum(), 1.0, atol=1e-5)
        convolved = conv2d(image, kernel, padding="same", pad_mode="reflect")
        np.testing.assert_allclose(masked, convolved, atol=1e-5)
        # and it is the image plus amount times (image - blur)
        blurred = conv2d(
            image, K.gaussian(None, sigma), padding="same", pad_mode="reflect"
        )
        np.testing.assert_allclose(
            masked, image + amount * (image - blurred), atol=1e-5
        )


def test_unsharp_mask_increases_edge_contrast_and_differs_from_high_boost():
    edge = _step(True, 20)
    sharpened = K.unsharp_mask(edge, 1.0, 1.0)
    assert sharpened.max() > 1.0 and sharpened.min() < 0.0  # overshoot on both sides
    assert not np.allclose(K.unsharp_kernel(1.0, 1.0, size=3), K.high_boost())


def test_emboss_and_identity():
    image = np.random.default_rng(2).random((10, 10)).astype(np.float32)
    np.testing.assert_allclose(conv2d(image, K.identity(5), padding="same"), image)
    assert K.emboss().sum() == 1.0


def test_gabor_orientation_selects_edge_direction():
    vertical_stripes = np.tile((np.arange(32) % 6 < 3).astype(np.float32), (32, 1))
    horizontal_stripes = vertical_stripes.T
    at_0 = K.gabor(orientation=0, wavelength=6, sigma=2)
    at_90 = K.gabor(orientation=90, wavelength=6, sigma=2)
    energy = lambda img, k: float(np.square(conv2d(img, k)).mean())  # noqa: E731
    assert energy(vertical_stripes, at_0) > 10 * energy(vertical_stripes, at_90)
    assert energy(horizontal_stripes, at_90) > 10 * energy(horizontal_stripes, at_0)
    assert abs(K.gabor(45).sum()) < 1e-5
    np.testing.assert_allclose(at_90, at_0.T, atol=1e-6)
    with pytest.raises(ValueError):
        K.gabor(wavelength=0)


def test_median_filter_removes_salt_and_pepper_but_keeps_edges():
    rng = np.random.default_rng(3)
    clean = _step(True, 32)
    noisy = clean.copy()
    spots = rng.random(clean.shape) < 0.05
    noisy[spots] = 1.0 - noisy[spots]
    median = K.median_filter(noisy, 3)
    box = conv2d(noisy, K.box_blur(3), padding="same", pad_mode="reflect")
    assert median.dtype == np.float32 and median.shape == clean.shape
    assert np.abs(median - clean).mean() < np.abs(box - clean).mean()
    assert np.array_equal(median, ndimage.median_filter(noisy, size=3, mode="reflect"))
    with pytest.raises(ValueError):
        K.median_filter(np.zeros((2, 4, 4)))
