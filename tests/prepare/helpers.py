"""Tiny image files made in the tests: PNG class folders, DICOM (pydicom) and NIfTI (nibabel); CLI runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from synthmed.cli import main

PATIENT_NAME = "Doe^Jane"
PATIENT_ID = "PID-SECRET-4711"


def write_png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def png_folder(root: Path, counts: dict[str, int], size: tuple[int, int] = (20, 20), seed: int = 0) -> Path:
    """``root/<class>/<i>.png`` with random 8-bit grayscale images."""
    rng = np.random.default_rng(seed)
    for name, n in counts.items():
        for i in range(n):
            write_png(root / name / f"{i:03d}.png", rng.integers(0, 256, size=size, dtype=np.uint8))
    return root


def write_dicom(path: Path, stored: np.ndarray, slope: float = 1.0, intercept: float = 0.0,
                photometric: str = "MONOCHROME2", pixels: bool = True) -> Path:
    """A minimal CT-like DICOM file with identifying tags, to check none of them leaks."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID, ds.Modality = PATIENT_NAME, PATIENT_ID, "CT"
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1 if stored.dtype == np.int16 else 0
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    if pixels:
        ds.PixelData = stored.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_nifti(path: Path, data: np.ndarray) -> Path:
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    nib.Nifti1Image(data, affine=np.eye(4)).to_filename(path)
    return path


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run ``synthmed ARGS``; return (exit code, stdout, stderr)."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
