"""A tiny saved model and in-memory images, shared by the serving, API and app tests."""

import io

import numpy as np
from PIL import Image


def save_tiny_model(folder, *, size=28, threshold=0.5, seed=0):
    """A few-layer CNN on size×size×1, saved with a model card per the training contract."""
    import keras

    import cnnguide
    from cnnguide.train import save

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((size, size, 1)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(
                8, 3, padding="same", activation="relu", name="last_conv"
            ),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ],
        name="tiny_cnn",
    )
    card = {
        "name": "tiny_cnn",
        "created": "2026-01-01T00:00:00",
        "disclaimer": cnnguide.DISCLAIMER,
        "threshold": threshold,
        "input_shape": [size, size, 1],
        "data": {
            "name": "test fixture",
            "source": "none",
            "citation": "",
            "is_real": False,
            "image_size": size,
            "split_sizes": {},
        },
        "versions": {
            "tensorflow": "x",
            "keras": keras.__version__,
            "cnnguide": cnnguide.__version__,
        },
    }
    return save(model, card, folder)


def png_bytes(array_or_size=(40, 32), value=128, mode="L"):
    buf = io.BytesIO()
    if isinstance(array_or_size, np.ndarray):
        Image.fromarray(array_or_size).save(buf, "PNG")
    else:
        Image.new(mode, array_or_size, value).save(buf, "PNG")
    return buf.getvalue()


def dicom_bytes(**tags):
    """A 16-bit greyscale DICOM file in memory; ``tags`` set or override its header
    (``pixels=`` replaces the 64×64 ramp)."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = generate_uid()
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = FileDataset("x.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    pixels = tags.pop("pixels", np.tile(np.arange(64, dtype=np.uint16) * 60, (64, 1)))
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 0
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.PixelData = pixels.tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
