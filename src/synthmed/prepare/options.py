"""The prepare stage's options, declared once: ``synthmed prepare``'s command-line options and the pipeline's
``data:`` section are this model (torch-free). ``prepare.run.prepare_dataset`` builds a dataset from it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from synthmed.errors import SynthmedError
from synthmed.prepare.readers import DEFAULT_MAX_PIXELS, parse_slice_mode
from synthmed.prepare.splitting import ratios_problem
from synthmed.utils.options import NOT_IN_KEY

SOURCE_KEYS = ("medmnist", "folder", "csv", "dicom", "nifti", "dataset")
MEDMNIST_SIZES = (28, 64, 128, 224)
# A source path: not in the cache key (the prepare key holds the source's content instead).
_SOURCE = {**NOT_IN_KEY}


class PrepareOptions(BaseModel):
    """Turn a source of images into a prepared dataset (PNG images + its manifest)."""

    model_config = ConfigDict(extra="forbid")

    # The pipeline's default source is BreastMNIST; on the command line the user names one.
    medmnist: str | None = Field("breastmnist", json_schema_extra={"cli_default": None}, description="Source "
                                 "(exactly one of medmnist, folder, csv, dicom, nifti, dataset): a MedMNIST dataset "
                                 "name (breastmnist, pneumoniamnist, ...).")
    folder: str | None = Field(None, json_schema_extra=_SOURCE, description="Source: a folder with one subfolder of "
                               "images per class (PNG, JPEG, TIFF, BMP, DICOM, NIfTI; NAME_mask.png beside NAME.png "
                               "is its mask). In a config, relative to the config file.")
    csv: str | None = Field(None, json_schema_extra=_SOURCE, description="Source: a CSV with columns "
                            "path,label[,patient_id][,split][,mask] (paths relative to the CSV's folder).")
    dicom: str | None = Field(None, json_schema_extra=_SOURCE, description="Source: a folder with one subfolder of "
                              "DICOM files per class.")
    nifti: str | None = Field(None, json_schema_extra=_SOURCE, description="Source: a folder with one subfolder of "
                              "NIfTI volumes per class (axial slices, see nifti_slices).")
    dataset: str | None = Field(None, json_schema_extra=_SOURCE, description="Source: a folder already made by "
                                "'synthmed prepare' (copied, or resized to resolution).")
    size: int = Field(28, description="MedMNIST file size to read: 28, 64, 128 or 224.")
    resolution: int | None = Field(None, ge=8, le=4096, description="Side of the prepared images in pixels; null: "
                                   "the MedMNIST size, a prepared dataset's own, or the files' most common side "
                                   "(at most 256). The GAN and classifiers train at their own resolution.")
    channels: Literal[1, 3] | None = Field(None, description="1 or 3 channels; null keeps the source's (RGB files "
                                           "with three equal channels count as gray).")
    bit_depth: Literal[8, 16] = Field(8, description="PNG bit depth of file sources: 8 or 16 (grayscale).")
    square: Literal["pad", "crop"] = Field("pad", description="File sources: pad (zero, centred) or crop (centre) "
                                           "to square.")
    resize_filter: Literal["lanczos", "bicubic", "bilinear", "area", "nearest"] = Field(
        "lanczos", description="Resize filter of file sources, and of the GAN's and classifiers' own resolutions.")
    window_center: float | None = Field(None, description="DICOM/NIfTI window centre (after rescale, e.g. HU); "
                                        "null: min-max per image.")
    window_width: float | None = Field(None, gt=0, description="DICOM/NIfTI window width.")
    nifti_slices: str = Field("all", description="NIfTI axial slices: all, middle:N, or mask (slices where the "
                              "volume's mask is non-zero).")
    nifti_mask: str = Field("_mask", description="NIfTI mask file suffix: NAME_mask.nii.gz beside NAME.nii.gz (a CSV "
                            "'mask' column overrides); such files are never images.")
    nifti_volume: int | None = Field(None, ge=0, description="Volume index of 4-D NIfTI files.")
    split_ratios: list[float] = Field([0.7, 0.15, 0.15], min_length=3, max_length=3, json_schema_extra={
        "comma": True}, description="train, val, test fractions when the source has no split (stratified; grouped "
        "by patient_id when a CSV gives it).")
    split_seed: int = Field(0, json_schema_extra={"flag": "seed"}, description="Seed of that split.")
    group_by_patient: bool = Field(True, description="Keep each CSV patient_id in one split (StratifiedGroupKFold).")
    skip_bad: bool = Field(False, description="Skip unreadable files (listed in the dataset's skipped.csv) "
                           "instead of stopping.")
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=1, description="Refuse images with more pixels than this "
                            "(decompression bombs) before decoding; skip_bad skips them.")
    allow_outside: bool = Field(False, description="Let CSV paths leave the CSV's folder (absolute or ../).")
    root: str | None = Field(None, json_schema_extra=_SOURCE, description="Folder with the MedMNIST .npz files; "
                             "null: $SYNTHMED_DATA_ROOT, then ~/.medmnist (not part of the cache key).")

    @field_validator("size")
    @classmethod
    def _size(cls, v: int) -> int:
        if v not in MEDMNIST_SIZES:
            raise ValueError(f"must be one of {', '.join(map(str, MEDMNIST_SIZES))}")
        return v

    @field_validator("split_ratios")
    @classmethod
    def _ratios(cls, v: list[float]) -> list[float]:
        problem = ratios_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("nifti_slices")
    @classmethod
    def _slices(cls, v: str) -> str:
        try:
            parse_slice_mode(v)
        except SynthmedError:
            raise ValueError("all, mask or middle:N (N > 0)") from None
        return v

    @model_validator(mode="after")
    def _one_source(self) -> PrepareOptions:
        chosen = [k for k in SOURCE_KEYS if getattr(self, k) is not None]
        if len(chosen) != 1:
            got = f"got {' and '.join(chosen)}" if chosen else "got none"
            raise ValueError(f"give exactly one source of {', '.join(SOURCE_KEYS)} ({got})")
        if (self.window_center is None) != (self.window_width is None):
            raise ValueError("give both window_center and window_width, or neither")
        return self

    @property
    def source(self) -> str:
        """Which source key is set: medmnist, folder, csv, dicom, nifti or dataset."""
        return next(k for k in SOURCE_KEYS if getattr(self, k) is not None)

    @property
    def source_path(self) -> str | None:
        return None if self.source == "medmnist" else getattr(self, self.source)
