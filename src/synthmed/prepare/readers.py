"""Read one image file (PNG, JPEG, TIFF, BMP, DICOM, NIfTI) into float pixels in [0, 1].

``read_image(path, opts)`` returns a list of ``(pixels, info)``: one entry for a 2-D image, one per
chosen slice for a NIfTI volume, one per frame for a multi-frame DICOM. ``pixels`` is float32
(H, W) or (H, W, C) in [0, 1]; ``info`` holds the slice/frame index. Every failure becomes a
``BadInputError`` naming the file and the problem in one line.

Intensity rules (why: each format stores intensities differently, and the later stages need [0, 1]):

- 8/16-bit raster images: divided by 255 / 65535 (the stored range, not the image's min-max);
  32-bit integer and float rasters: min-max per image. EXIF rotation is applied; a multi-page TIFF
  gives its first page; palette images become RGB; alpha is dropped later (``preprocess.to_channels``).
- DICOM: the modality LUT (Rescale Slope/Intercept) first, via ``pydicom.pixels.apply_modality_lut``;
  then the window ``--window-center/--window-width`` when given (DICOM LINEAR function), else min-max per
  image; MONOCHROME1 is inverted so that bright means dense everywhere. No DICOM tag is ever returned.
- NIfTI: reoriented to RAS (``nibabel.as_closest_canonical``), axial slices ``data[:, :, k]`` shown with
  anterior up; the window when given, else min-max over the whole (chosen) volume, so that slices of one
  volume keep comparable intensities.

Heavy readers (pydicom, nibabel) are imported inside the functions.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthmed.errors import BadInputError, SynthmedError

RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
DICOM_SUFFIXES = (".dcm", ".dicom")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
IMAGE_SUFFIXES = (*RASTER_SUFFIXES, *DICOM_SUFFIXES, *NIFTI_SUFFIXES)
SUPPORTED = ", ".join(IMAGE_SUFFIXES)
# Files an OS or a viewer leaves in folders; never images, never errors.
IGNORED_NAMES = {"thumbs.db", "desktop.ini"}

Image01 = np.ndarray

# Pillow's own guard (a warning above 89 MP, an error above twice that) would print warnings or raise its own
# exception type; synthmed checks the header's size itself, before decoding, with one limit users can change.
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's Image.MAX_IMAGE_PIXELS: about 9459 x 9459
SliceList = list[tuple[Image01, dict[str, Any]]]


@dataclass(frozen=True)
class ReadOptions:
    """How DICOM and NIfTI intensities and slices are chosen (see the module docstring)."""

    window_center: float | None = None
    window_width: float | None = None
    nifti_slices: str = "all"  # "all", "middle:N" or "mask"
    nifti_mask_suffix: str = "_mask"  # <name>_mask.nii.gz beside <name>.nii.gz
    nifti_volume: int | None = None  # which volume of a 4-D NIfTI
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger images (decompression bombs) are refused before decoding

    def __post_init__(self) -> None:
        if self.max_pixels < 1:
            raise SynthmedError(f"--max-pixels must be positive, got {self.max_pixels}")
        if (self.window_center is None) != (self.window_width is None):
            raise SynthmedError("give both --window-center and --window-width, or neither")
        if self.window_width is not None and self.window_width <= 0:
            raise SynthmedError(f"--window-width must be positive, got {self.window_width}")
        parse_slice_mode(self.nifti_slices)
        if self.nifti_volume is not None and self.nifti_volume < 0:
            raise SynthmedError(f"--nifti-volume must be >= 0, got {self.nifti_volume}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_slice_mode(text: str) -> tuple[str, int]:
    """``all`` | ``mask`` | ``middle:N`` -> (mode, N)."""
    if text in ("all", "mask"):
        return text, 0
    head, _, tail = text.partition(":")
    if head == "middle" and tail.isdigit() and int(tail) > 0:
        return "middle", int(tail)
    raise SynthmedError(f"--nifti-slices must be all, mask or middle:N (N > 0), got '{text}'")


# -- file kinds ---------------------------------------------------------------------------------
def is_ignored(path: Path) -> bool:
    return path.name.startswith(".") or path.name.lower() in IGNORED_NAMES


def is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def nifti_stem(path: Path) -> str:
    name = path.name
    return name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else name[: -len(".nii")]


def is_mask_file(path: Path, opts: ReadOptions) -> bool:
    return is_nifti(path) and bool(opts.nifti_mask_suffix) and nifti_stem(path).endswith(opts.nifti_mask_suffix)


def mask_for(path: Path, opts: ReadOptions) -> Path:
    """The sibling mask a NIfTI volume uses with ``--nifti-slices mask``: ``<stem><suffix>.nii[.gz]``."""
    ext = path.name[len(nifti_stem(path)) :]
    return path.with_name(nifti_stem(path) + opts.nifti_mask_suffix + ext)


def kind_of(path: Path) -> str:
    """``raster`` | ``dicom`` | ``nifti``; a suffix-less file is DICOM when it has the DICM preamble."""
    name = path.name.lower()
    if name.endswith(RASTER_SUFFIXES):
        return "raster"
    if name.endswith(DICOM_SUFFIXES):
        return "dicom"
    if is_nifti(path):
        return "nifti"
    if not path.suffix and _has_dicom_preamble(path):
        return "dicom"
    shown = path.suffix or "none"
    raise BadInputError(path, f"not a supported image file (suffix '{shown}'; supported: {SUPPORTED})")


def _has_dicom_preamble(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return head[128:132] == b"DICM"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


# -- public entry points ------------------------------------------------------------------------
def probe_image(path: Path, opts: ReadOptions) -> tuple[int, tuple[int, int]]:
    """(channels 1 or 3, (height, width)) from the header (colour rasters are decoded to test R=G=B)."""
    kind = kind_of(path)
    if kind == "raster":
        width, height = raster_size(path, opts.max_pixels)
        return _probe_raster(path, opts.max_pixels), (height, width)
    if kind == "dicom":
        ds = _read_dicom_dataset(path, defer=True)
        shape = _dicom_shape(path, ds, opts.max_pixels)
        return (3 if _dicom_int(path, ds, "SamplesPerPixel", 1) >= 3 else 1), shape
    shape = _load_nifti(path).shape  # header check
    return 1, (int(shape[1]) if len(shape) > 1 else 1, int(shape[0]) if shape else 1)


def read_image(path: Path, opts: ReadOptions, mask: Path | None = None) -> SliceList:
    """All images in one file, as (float32 pixels in [0, 1], info) pairs."""
    kind = kind_of(path)
    if kind == "raster":
        return [(read_raster(path, opts.max_pixels), {})]
    if kind == "dicom":
        return _read_dicom(path, opts)
    return _read_nifti(path, opts, mask)


# -- raster (Pillow) ----------------------------------------------------------------------------
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


@contextmanager
def _open_raster(path: Path, max_pixels: int):
    """``PIL.Image.open`` with the size checked against ``max_pixels`` first; every failure a ``BadInputError``.

    Why ``except Exception`` around the decoder: Pillow raises many types (OSError, ValueError, SyntaxError,
    struct.error, IndexError, ZeroDivisionError, ...) for corrupt bytes, and every one means the same to a user.
    """
    from PIL import Image, UnidentifiedImageError

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # our check below replaces Pillow's
    try:
        try:
            im = Image.open(path)
        except UnidentifiedImageError:
            raise BadInputError(path, "not a readable image (unknown format or corrupt header)") from None
        except Exception as exc:
            raise BadInputError(path, f"not a readable image ({_first_line(exc)})") from None
        with im:
            width, height = im.size
            if width * height > max_pixels:
                raise BadInputError(path, f"image is {width}x{height}, larger than the limit {max_pixels} pixels "
                                          "(--max-pixels)")
            try:
                yield im
            except BadInputError:
                raise
            except Exception as exc:
                raise BadInputError(path, f"corrupt or truncated image ({_first_line(exc)})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _probe_raster(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> int:
    """1 for gray modes and for colour files whose channels are all equal (decoded to check), else 3."""
    with _open_raster(path, max_pixels) as im:
        if im.mode in _GRAY_MODES:
            return 1
    return 1 if equal_channels(read_raster(path, max_pixels)) else 3


# Most ultrasound and X-ray exports are RGB files of a gray picture. One 8-bit level of tolerance absorbs
# JPEG's colour-conversion rounding; a colour picture differs between channels by far more somewhere.
EQUAL_CHANNEL_TOLERANCE = 1.0 / 255.0


def equal_channels(pixels: Image01) -> bool:
    """True for an (H, W, C >= 3) image whose first three channels are equal (within one 8-bit level)."""
    if pixels.ndim != 3 or pixels.shape[2] < 3:
        return False
    rgb = pixels[:, :, :3]
    tol = EQUAL_CHANNEL_TOLERANCE + 1e-6
    return bool(np.abs(rgb[:, :, 0] - rgb[:, :, 1]).max() <= tol and np.abs(rgb[:, :, 1] - rgb[:, :, 2]).max() <= tol)


def raster_size(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """(width, height) from the header; raises ``BadInputError`` for unreadable or too large files."""
    with _open_raster(path, max_pixels) as im:
        return im.size


def read_raster(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image01:
    """One PNG/JPEG/TIFF/BMP as float32 pixels in [0, 1] (see the module docstring)."""
    from PIL import ImageOps

    with _open_raster(path, max_pixels) as im:
        im.load()  # decodes now: a truncated or corrupt file fails here
        im = ImageOps.exif_transpose(im)  # photos (dermoscopy, fundus) may store rotation in EXIF only
        if im.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
            im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
        arr = np.asarray(im)
    return _raster_to_unit(path, arr)


def _raster_to_unit(path: Path, arr: np.ndarray) -> Image01:
    if arr.dtype == bool:
        return arr.astype(np.float32)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype.kind in "ui" and arr.min() >= 0 and arr.max() <= 65535:  # 16-bit PNG/TIFF ('I;16' or 'I')
        return arr.astype(np.float32) / 65535.0
    return _minmax(path, arr)


# -- intensity helpers ------------------------------------------------------------------------
def _minmax(path: Path, arr: np.ndarray) -> Image01:
    arr = arr.astype(np.float32)
    finite = np.isfinite(arr)
    if not finite.any():
        raise BadInputError(path, "image has no finite pixel values")
    lo, hi = float(arr[finite].min()), float(arr[finite].max())
    arr = np.where(finite, arr, lo)
    if hi <= lo:
        return np.zeros_like(arr)
    return (arr - lo) / (hi - lo)


def linear_window(values: np.ndarray, center: float, width: float) -> Image01:
    """DICOM PS3.3 C.11.2.1.2.1 'LINEAR' window, straight to [0, 1].

    Why hand-written: the same window applies to NIfTI arrays, which have no DICOM dataset for
    ``pydicom.pixels.apply_windowing`` to read; tests check it equals pydicom's output rescaled.
    """
    c, w = center - 0.5, width - 1.0
    if w <= 0:  # width 1: a hard threshold at the centre
        return (values > c).astype(np.float32)
    out = (values.astype(np.float64) - c) / w + 0.5
    out[values <= c - w / 2] = 0.0
    out[values > c + w / 2] = 1.0
    return out.astype(np.float32)


# -- DICOM (pydicom) ----------------------------------------------------------------------------
def _read_dicom_dataset(path: Path, defer: bool):
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns about odd values; one-line errors only
            ds = pydicom.dcmread(path, defer_size="1 KB" if defer else None)
    except InvalidDicomError as exc:
        raise BadInputError(path, f"unreadable DICOM ({_first_line(exc)})") from None
    except Exception as exc:  # pydicom raises many types (OSError, ValueError, struct.error, ...) on corrupt files
        raise BadInputError(path, f"unreadable DICOM ({_first_line(exc)})") from None
    if "PixelData" not in ds:
        raise BadInputError(path, "DICOM has no pixel data")
    return ds


def _dicom_int(path: Path, ds, keyword: str, default: int) -> int:
    try:
        return int(ds.get(keyword, default) or default)
    except Exception:  # a corrupt element: bytes that are no number, a wrong VR, ...
        raise BadInputError(path, f"DICOM {keyword} is not a number") from None


def _dicom_shape(path: Path, ds, max_pixels: int) -> tuple[int, int]:
    """(rows, columns) from the header, refused above ``max_pixels`` per frame like a raster image."""
    rows, cols = _dicom_int(path, ds, "Rows", 0), _dicom_int(path, ds, "Columns", 0)
    if rows * cols > max_pixels:
        raise BadInputError(path, f"image is {cols}x{rows}, larger than the limit {max_pixels} pixels (--max-pixels)")
    return rows, cols


def _read_dicom(path: Path, opts: ReadOptions) -> SliceList:
    from pydicom.pixels import apply_modality_lut

    ds = _read_dicom_dataset(path, defer=False)
    _dicom_shape(path, ds, opts.max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for truncated or undecodable pixel data
        raise BadInputError(path, f"cannot decode DICOM pixel data ({_first_line(exc)})") from None
    samples = _dicom_int(path, ds, "SamplesPerPixel", 1)
    frames = _dicom_int(path, ds, "NumberOfFrames", 1)
    if frames == 1:
        pixels = pixels[None]
    if samples >= 3:  # colour: pydicom already converted YBR to RGB; no LUTs apply
        return [(_raster_to_unit(path, frame), {"frame": i} if frames > 1 else {}) for i, frame in enumerate(pixels)]
    try:
        values = apply_modality_lut(pixels, ds)
    except Exception as exc:  # a corrupt rescale or LUT element
        raise BadInputError(path, f"cannot apply the DICOM rescale ({_first_line(exc)})") from None
    if opts.window_center is not None and opts.window_width is not None:
        images = [linear_window(v, opts.window_center, opts.window_width) for v in values]
    else:
        images = [_minmax(path, v) for v in values]
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        images = [1.0 - im for im in images]
    return [(im, {"frame": i} if frames > 1 else {}) for i, im in enumerate(images)]


# -- NIfTI (nibabel) ----------------------------------------------------------------------------
def _load_nifti(path: Path):
    import nibabel as nib

    try:
        return nib.load(path)
    except Exception as exc:  # nibabel: ImageFileError, gzip/EOF errors, struct errors
        raise BadInputError(path, f"unreadable NIfTI ({_first_line(exc)})") from None


def _nifti_volume(path: Path, opts: ReadOptions, img=None) -> np.ndarray:
    """The 3-D float32 volume in RAS orientation (a 4-D file needs ``--nifti-volume``)."""
    import nibabel as nib

    img = img if img is not None else _load_nifti(path)
    shape = img.shape
    if len(shape) == 4 and shape[3] > 1:
        if opts.nifti_volume is None:
            raise BadInputError(path, f"4-D NIfTI with {shape[3]} volumes; choose one with --nifti-volume K")
        if opts.nifti_volume >= shape[3]:
            raise BadInputError(path, f"--nifti-volume {opts.nifti_volume} but the file has {shape[3]} volumes")
        img = img.slicer[..., opts.nifti_volume]
    elif len(shape) == 4:
        img = img.slicer[..., 0]
    elif len(shape) > 4 or len(shape) < 2:
        raise BadInputError(path, f"NIfTI with shape {shape}; expected 2-D, 3-D or 4-D")
    try:
        if len(img.shape) == 2:
            return np.asarray(img.get_fdata(dtype=np.float32))[:, :, None]
        return np.asarray(nib.as_closest_canonical(img).get_fdata(dtype=np.float32))
    except Exception as exc:  # truncated .nii.gz and the like fail when the data is read
        raise BadInputError(path, f"cannot read NIfTI voxel data ({_first_line(exc)})") from None


def _chosen_slices(path: Path, volume: np.ndarray, opts: ReadOptions, mask: Path | None) -> list[int]:
    mode, n = parse_slice_mode(opts.nifti_slices)
    depth = volume.shape[2]
    if mode == "all":
        return list(range(depth))
    if mode == "middle":
        n = min(n, depth)
        start = (depth - n) // 2
        return list(range(start, start + n))
    mask = mask or mask_for(path, opts)
    if not mask.is_file():
        raise BadInputError(path, f"--nifti-slices mask: mask file {mask} not found")
    mask_vol = _nifti_volume(mask, ReadOptions(nifti_volume=0))
    if mask_vol.shape != volume.shape:
        raise BadInputError(mask, f"mask shape {mask_vol.shape} differs from volume {path.name} {volume.shape}")
    chosen = np.flatnonzero(np.any(mask_vol != 0, axis=(0, 1)))
    if chosen.size == 0:
        raise BadInputError(mask, "mask is empty (no non-zero voxel), so no slice is chosen")
    return [int(k) for k in chosen]


def read_nifti_masks(path: Path, opts: ReadOptions, mask: Path | None, slices: list[int],
                     shape: tuple[int, int]) -> list[np.ndarray] | None:
    """The segmentation mask of each chosen slice (bool, oriented like the slice: non-zero voxels), from the
    volume's mask (the CSV 'mask' column, else ``<name>_mask.nii[.gz]`` beside it); None when it has none."""
    mask = mask or mask_for(path, opts)
    if not mask.is_file():
        return None
    volume = _nifti_volume(mask, ReadOptions(nifti_volume=0))
    planes = [np.ascontiguousarray(np.flipud(volume[:, :, k].T)) != 0 for k in slices if k < volume.shape[2]]
    if len(planes) != len(slices) or any(p.shape != shape for p in planes):
        raise BadInputError(mask, f"mask volume {volume.shape} does not match its volume {path.name} "
                                  f"(slices of {shape[1]}x{shape[0]})")
    return planes


def _read_nifti(path: Path, opts: ReadOptions, mask: Path | None) -> SliceList:
    volume = _nifti_volume(path, opts)
    slices = _chosen_slices(path, volume, opts, mask)
    # Voxels outside a scanner's field of view are often stored as NaN: they take the volume's lowest finite
    # value (black after the min-max or a window), and each slice says how many it had, so dataset.json's
    # conversions count the images (never a silent 0).
    finite = np.isfinite(volume)
    non_finite = (~finite).sum(axis=(0, 1))
    if not finite.any():
        raise BadInputError(path, "volume has no finite voxel values (all NaN or infinite)")
    if non_finite.any():
        volume = np.where(finite, volume, volume[finite].min())
    if opts.window_center is not None and opts.window_width is not None:
        scaled = linear_window(volume, opts.window_center, opts.window_width)
    else:
        scaled = _minmax(path, volume)
    # RAS axial slice [x, y] -> rows = y (anterior up), columns = x.
    return [(np.ascontiguousarray(np.flipud(scaled[:, :, k].T)),
             {"slice": k, **({"non_finite_voxels": int(non_finite[k])} if non_finite[k] else {})}) for k in slices]
