"""File readers: intensities (DICOM rescale, window, MONOCHROME1), NIfTI slice choice, raster bit depths."""

from __future__ import annotations

import numpy as np
import pytest

from synthmed.errors import BadInputError
from synthmed.prepare.readers import ReadOptions, linear_window, read_image
from tests.prepare.helpers import write_dicom, write_nifti, write_png

STORED = np.array([[0, 1000], [2000, 3000]], dtype=np.uint16)  # with intercept -1024: -1024, -24, 976, 1976 HU


def test_linear_window_matches_pydicom() -> None:
    from pydicom.dataset import Dataset
    from pydicom.pixels import apply_windowing

    values = np.linspace(-1500, 2500, 401)
    for center, width in ((40.0, 400.0), (0.0, 2000.0), (-600.0, 1500.0), (10.0, 1.0)):
        ds = Dataset()
        ds.PhotometricInterpretation, ds.BitsStored, ds.PixelRepresentation = "MONOCHROME2", 16, 1
        ds.WindowCenter, ds.WindowWidth = center, width
        ref = apply_windowing(values.copy(), ds)
        y_min, y_max = -(2**15), 2**15 - 1
        np.testing.assert_allclose(linear_window(values, center, width), (ref - y_min) / (y_max - y_min), atol=1e-6)


def test_dicom_rescale_then_minmax(tmp_path) -> None:
    path = write_dicom(tmp_path / "a.dcm", STORED, intercept=-1024.0)
    [(pixels, info)] = read_image(path, ReadOptions())
    np.testing.assert_allclose(pixels, [[0, 1 / 3], [2 / 3, 1]], atol=1e-6)
    assert info == {}


def test_dicom_window_in_hounsfield_units(tmp_path) -> None:
    # Window -1000..1000 HU (centre 0, width 2000), DICOM LINEAR: (x + 0.5) / 1999 + 0.5.
    path = write_dicom(tmp_path / "a.dcm", STORED, intercept=-1024.0)
    [(pixels, _)] = read_image(path, ReadOptions(window_center=0, window_width=2000))
    expected = [[0.0, (-24 + 0.5) / 1999 + 0.5], [(976 + 0.5) / 1999 + 0.5, 1.0]]
    np.testing.assert_allclose(pixels, expected, atol=1e-6)


def test_dicom_rescale_slope_is_applied(tmp_path) -> None:
    # slope 2: stored 0..3000 -> 0..6000; window centre 3000 width 2001 covers stored 1000..2000 only.
    path = write_dicom(tmp_path / "a.dcm", STORED, slope=2.0)
    [(pixels, _)] = read_image(path, ReadOptions(window_center=3000.5, window_width=2001))
    np.testing.assert_allclose(pixels, [[0, 0], [1, 1]], atol=1e-6)  # 2000 and 4000 sit on the window's edges


def test_monochrome1_is_inverted(tmp_path) -> None:
    path = write_dicom(tmp_path / "a.dcm", STORED, photometric="MONOCHROME1")
    [(pixels, _)] = read_image(path, ReadOptions())
    np.testing.assert_allclose(pixels, [[1, 2 / 3], [1 / 3, 0]], atol=1e-6)


def test_dicom_without_pixel_data(tmp_path) -> None:
    path = write_dicom(tmp_path / "a.dcm", STORED, pixels=False)
    with pytest.raises(BadInputError, match="DICOM has no pixel data"):
        read_image(path, ReadOptions())


def _volume() -> np.ndarray:
    """4x4x6 volume whose axial slice k holds the value k (and one marker voxel per slice)."""
    vol = np.repeat(np.arange(6, dtype=np.float32)[None, None, :], 4, axis=0).repeat(4, axis=1)
    vol[3, 0, :] += 0.5  # x = 3, y = 0: bottom-right pixel after the RAS display flip
    return vol


def test_nifti_middle_slices_and_orientation(tmp_path) -> None:
    path = write_nifti(tmp_path / "v.nii.gz", _volume())
    slices = read_image(path, ReadOptions(nifti_slices="middle:2"))
    assert [info["slice"] for _, info in slices] == [2, 3]
    pixels, _ = slices[0]
    scale = 5.5  # min-max over the whole volume: 0 .. 5.5
    assert pixels[0, 0] == pytest.approx(2 / scale)
    assert pixels[3, 3] == pytest.approx(2.5 / scale)  # row 3 = y 0 (posterior at the bottom), column 3 = x 3


def test_nifti_all_and_mask_slices(tmp_path) -> None:
    path = write_nifti(tmp_path / "v.nii.gz", _volume())
    mask = np.zeros((4, 4, 6), dtype=np.uint8)
    mask[1, 1, 1] = mask[2, 2, 4] = 1
    write_nifti(tmp_path / "v_mask.nii.gz", mask)
    assert len(read_image(path, ReadOptions())) == 6
    assert [i["slice"] for _, i in read_image(path, ReadOptions(nifti_slices="mask"))] == [1, 4]


def test_nifti_4d_needs_a_volume(tmp_path) -> None:
    data = np.stack([_volume(), _volume() * 2], axis=3)
    path = write_nifti(tmp_path / "v4.nii.gz", data)
    with pytest.raises(BadInputError, match="--nifti-volume"):
        read_image(path, ReadOptions())
    assert len(read_image(path, ReadOptions(nifti_volume=1))) == 6


def test_16bit_png_keeps_its_range(tmp_path) -> None:
    from PIL import Image

    path = tmp_path / "a.png"
    Image.fromarray(np.array([[0, 65535], [1000, 32768]], dtype=np.uint16)).save(path)
    [(pixels, _)] = read_image(path, ReadOptions())
    np.testing.assert_allclose(pixels, np.array([[0, 65535], [1000, 32768]]) / 65535, atol=1e-7)


def test_8bit_rgba_png(tmp_path) -> None:
    rgba = np.zeros((3, 3, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    path = write_png(tmp_path / "a.png", rgba)
    [(pixels, _)] = read_image(path, ReadOptions())
    assert pixels.shape == (3, 3, 4) and pixels[0, 0, 0] == 1.0 and pixels[0, 0, 1] == 0.0


def test_exif_rotation_is_applied(tmp_path) -> None:
    from PIL import Image

    pixels = np.zeros((2, 3), np.uint8)
    pixels[0, 0] = 255
    im = Image.fromarray(pixels)
    exif = im.getexif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    im.save(tmp_path / "a.png", exif=exif)
    [(out, _)] = read_image(tmp_path / "a.png", ReadOptions())
    assert out.shape == (3, 2) and out[0, 1] == 1.0  # the top-left pixel moves to the top-right
