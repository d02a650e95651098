"""DICOM through the one image loader: real files written with pydicom, no mocks."""

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from cnnguide.data import ImageError, load_image

SIDE = 64


def write_dicom(path, pixels, *, bits, photometric="MONOCHROME2", window=None):
    """A one-frame greyscale DICOM file, as a scanner's export would be."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits, bits - 1
    ds.PixelRepresentation = 0
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return path


def ramp(top):
    """(SIDE, SIDE) horizontal ramp 0..top."""
    return np.tile(np.linspace(0, top, SIDE).round(), (SIDE, 1)).astype(np.uint16)


@pytest.mark.parametrize("bits", [12, 16])
def test_monochrome2_is_scaled_by_its_real_range(tmp_path, bits):
    top = 2**bits - 1
    path = write_dicom(tmp_path / "chest.dcm", ramp(top), bits=bits)
    x = load_image(path)
    assert x.shape == (SIDE, SIDE) and x.dtype == np.float32
    np.testing.assert_allclose(x, ramp(top) / top, atol=1e-6)
    # a 12-bit image reaches white: it is not divided by the 16-bit container's 65535
    assert x.max() == pytest.approx(1.0)


@pytest.mark.parametrize("bits", [12, 16])
def test_monochrome1_is_inverted(tmp_path, bits):
    top = 2**bits - 1
    m1 = load_image(
        write_dicom(
            tmp_path / "m1.dcm", ramp(top), bits=bits, photometric="MONOCHROME1"
        )
    )
    m2 = load_image(write_dicom(tmp_path / "m2.dcm", ramp(top), bits=bits))
    np.testing.assert_allclose(m1, 1.0 - m2, atol=1e-6)
    assert m1[:, 0].mean() == pytest.approx(1.0)  # stored 0 shows white


def test_window_is_applied(tmp_path):
    """WindowCenter/Width 2048/1024 on 12 bits: below 1536 black, above 2560 white."""
    pixels = ramp(4095)
    path = write_dicom(tmp_path / "w.dcm", pixels, bits=12, window=(2048, 1024))
    x = load_image(path)
    assert x[pixels < 1500].max() == 0.0
    assert x[pixels > 2600].min() == pytest.approx(1.0)
    middle = (pixels > 1700) & (pixels < 2400)
    assert 0.0 < x[middle].min() < x[middle].max() < 1.0
    # without the window the same pixels are a plain ramp
    plain = load_image(write_dicom(tmp_path / "p.dcm", pixels, bits=12))
    assert not np.allclose(x, plain)


def test_bytes_without_a_name_are_recognised_by_the_marker(tmp_path):
    path = write_dicom(tmp_path / "scan.bin", ramp(4095), bits=12)
    x = load_image(path.read_bytes(), size=32)
    assert x.shape == (32, 32)
    assert pydicom.dcmread(path).PhotometricInterpretation == "MONOCHROME2"


def test_service_reads_dicom_uploads(tmp_path):
    from cnnguide.deploy.service import read_upload

    path = write_dicom(
        tmp_path / "upload.dcm", ramp(4095), bits=12, photometric="MONOCHROME1"
    )
    x = read_upload(path.read_bytes(), 28, filename="upload.dcm")
    assert x.shape == (28, 28)
    assert x[:, 0].mean() > 0.9 > 0.1 > x[:, -1].mean()  # inverted ramp


def test_broken_dicom_names_the_file(tmp_path):
    path = write_dicom(tmp_path / "broken.dcm", ramp(4095), bits=12)
    path.write_bytes(path.read_bytes()[:-1000])  # truncated pixel data
    with pytest.raises(ImageError, match="broken.dcm"):
        load_image(path)


def test_too_small_dicom_is_refused_with_the_minimum_side(tmp_path):
    path = write_dicom(tmp_path / "small.dcm", ramp(4095)[:16, :16], bits=12)
    with pytest.raises(ImageError, match=r"small\.dcm is 16x16 .* at least 28 pixels"):
        load_image(path, size=28)
