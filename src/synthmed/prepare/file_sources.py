"""Image files as a source: a folder with one subfolder per class, or a CSV of ``path,label``.

Both give a list of ``FileItem`` (file, label index, optional patient id, split and NIfTI mask) and
the class names; nothing is read here except directory listings and the CSV itself.

Folder: ``DIR/<class>/**/<image>``; class names are the subfolder names, sorted; hidden files and
folders are ignored; NIfTI masks (``<name>_mask.nii.gz``, see ``--nifti-mask``) and raster masks
(``NAME_mask.png``, ``NAME_mask_N.png`` beside ``NAME.png``, see ``masks.py``) are never images.
CSV: columns ``path`` and ``label`` (names or integers), optional ``patient_id``, ``split``
(train/val/test) and ``mask`` (a raster image's segmentation mask, or a NIfTI volume's slice mask);
paths are relative to the CSV's folder.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from synthmed.errors import BadInputError
from synthmed.prepare.masks import pair_masks
from synthmed.prepare.readers import IMAGE_SUFFIXES, ReadOptions, is_ignored, is_mask_file, is_nifti, kind_of

SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


@dataclass
class FileItem:
    path: Path
    label: int
    patient_id: str | None = None
    split: str | None = None
    mask: Path | None = None  # NIfTI: the mask volume that chooses slices (--nifti-slices mask)
    masks: tuple[Path, ...] = ()  # raster: segmentation masks stored beside the image (prepare/masks.py)
    where: str = ""  # how to name this item in messages (e.g. "labels.csv row 4")


@dataclass
class FileSource:
    classes: list[str]
    items: list[FileItem]
    root: Path  # entry "source_file" paths are relative to this
    description: dict
    has_splits: bool = False


def require_two_classes(where: Path, classes: list[str]) -> None:
    if len(classes) < 2:
        found = f"only '{classes[0]}'" if classes else "none"
        raise BadInputError(where, f"needs at least two classes, found {found}")


def scan_folder(root: Path, opts: ReadOptions, kind: str | None = None) -> FileSource:
    """One subfolder per class; every non-hidden file below it is an image (or an error later).

    ``kind`` ``dicom`` or ``nifti``: every image file must be of that kind (the config's ``data.dicom`` /
    ``data.nifti`` keys say what the folder holds, so a stray PNG is named rather than mixed in).
    """
    if not root.is_dir():
        raise BadInputError(root, "not a folder")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not is_ignored(p))
    classes = [p.name for p in class_dirs]
    require_two_classes(root, classes)
    items: list[FileItem] = []
    for label, folder in enumerate(class_dirs):
        files = sorted(p for p in folder.rglob("*") if _maybe_image(p) and not _hidden_below(p, folder))
        files, masks = pair_masks([p for p in files if not is_mask_file(p, opts)])
        if not files:
            raise BadInputError(folder, f"class folder '{folder.name}' has no image files")
        items += [FileItem(path=p, label=label, masks=masks.get(p, ()), where=str(p)) for p in files]
    if kind is not None:
        _require_kind(items, kind)
    n_masks = sum(len(it.masks) for it in items)
    return FileSource(classes=classes, items=items, root=root,
                      description={"type": "folder", "path": str(root.absolute()), "files": len(items),
                                   **({"mask_files": n_masks} if n_masks else {})})


def _maybe_image(path: Path) -> bool:
    """A file, or something a user meant as one: a folder named like an image (``x.png/``), a broken symlink
    or a symlink loop. Those become items so that they fail by name (or are listed with --skip-bad) instead of
    vanishing; plain subfolders are only walked."""
    if path.is_file():
        return True
    if path.is_dir():
        return path.name.lower().endswith(IMAGE_SUFFIXES)
    return True  # not a file and not a folder: a dangling link, a loop, a device or socket


def _require_kind(items: list[FileItem], kind: str) -> None:
    for item in items:
        try:
            found = kind_of(item.path)
        except BadInputError:
            found = "unsupported"
        if found != kind:
            raise BadInputError(item.path, f"not a {kind.upper() if kind == 'dicom' else 'NIfTI'} file, but the "
                                           f"config names a {kind} folder (use data.folder for mixed files)")


def fingerprint(source: FileSource) -> str:
    """sha256 over what a prepare reads: every file's path, size and mtime (a folder: every non-hidden file
    below it, so NIfTI masks too; a CSV: its bytes and the files its rows name), and the class names.

    Why sizes and mtimes, not contents: hashing gigabytes of DICOM before every run would cost more than
    the runs it saves; an edit, an added or a removed file changes the list, a size or an mtime.
    """
    h = hashlib.sha256("\0".join(source.classes).encode())
    if source.description.get("type") == "csv":
        h.update(Path(source.description["file"]).read_bytes())
        paths = [p for it in source.items for p in (it.path, it.mask, *it.masks) if p is not None]
    else:
        root = source.root
        paths = sorted(p for p in root.rglob("*") if p.is_file() and not _hidden_below(p, root))
    for path in paths:
        try:
            st = path.stat()
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        rel = path.relative_to(source.root).as_posix() if path.is_relative_to(source.root) else str(path)
        h.update(f"{rel}\0{stamp}\0".encode())
    return h.hexdigest()


def _hidden_below(path: Path, top: Path) -> bool:
    return any(is_ignored(Path(part)) for part in path.relative_to(top).parts)


def read_csv_source(csv_path: Path, allow_outside: bool = False) -> FileSource:
    """Rows of ``path,label[,patient_id][,split][,mask]``; every referenced file must exist.

    A path listed twice is an error naming both rows (one image would count twice, perhaps under two labels
    or in two splits). Paths leaving the CSV's folder (absolute, or ``..``) are refused unless
    ``allow_outside``: a CSV from elsewhere must not make prepare read arbitrary files unasked; with it,
    their number is recorded in dataset.json (``source.outside_csv_folder``).
    """
    rows = _read_rows(csv_path)
    base = csv_path.parent
    raw_labels = [(row.get("label") or "").strip() for row in rows]
    for i, value in enumerate(raw_labels):
        if not value:
            raise BadInputError(csv_path, f"row {i + 2}: empty label")
    classes, index = _class_index(raw_labels)
    require_two_classes(csv_path, classes)
    has_split = any((row.get("split") or "").strip() for row in rows)
    items = []
    first_row: dict[str, int] = {}
    outside = 0
    for i, row in enumerate(rows):
        where = f"{csv_path} row {i + 2}"  # row 1 is the header
        rel = _row_path(csv_path, i, row, "path")
        if not rel:
            raise BadInputError(csv_path, f"row {i + 2}: empty path")
        key = os.path.normpath(rel)
        if key in first_row:
            j = first_row[key]
            raise BadInputError(csv_path, f"rows {j + 2} and {i + 2} both list {rel} (labels {raw_labels[j]} and "
                                          f"{raw_labels[i]}); list each image once")
        first_row[key] = i
        split = _row_split(csv_path, i, row) if has_split else None
        mask = _row_path(csv_path, i, row, "mask")
        leaving = [p for p in (rel, mask) if p and _leaves_folder(base, p)]
        if leaving and not allow_outside:
            raise BadInputError(csv_path, f"row {i + 2}: {leaving[0]} is outside the CSV's folder "
                                          "(pass --allow-outside, or data.allow_outside: true, to read it)")
        outside += bool(leaving)
        mask_path = base / mask if mask else None
        volume = is_nifti(base / rel)  # a NIfTI's mask chooses slices; a raster image's mask is stored
        items.append(FileItem(path=base / rel, label=index[raw_labels[i]], split=split,
                              patient_id=(row.get("patient_id") or "").strip() or None,
                              mask=mask_path if volume else None,
                              masks=(mask_path,) if mask_path is not None and not volume else (), where=where))
    description = {"type": "csv", "file": str(csv_path.absolute()), "rows": len(rows)}
    if outside:
        description["outside_csv_folder"] = outside
    return FileSource(classes=classes, items=items, root=base, has_splits=has_split, description=description)


def _row_path(csv_path: Path, i: int, row: dict[str, str], column: str) -> str:
    value = (row.get(column) or "").strip()
    if "\0" in value:
        raise BadInputError(csv_path, f"row {i + 2}: {column} contains a NUL character")
    return value


def _leaves_folder(base: Path, rel: str) -> bool:
    """Absolute, climbing out with ``..``, or led out by a symlink (a linked file or folder): judged on the
    path with every symlink resolved, so a link inside the folder cannot make prepare read elsewhere unasked."""
    if Path(rel).is_absolute() or os.path.normpath(rel).split(os.sep)[0] == "..":
        return True
    try:
        return not Path(os.path.realpath(base / rel)).is_relative_to(os.path.realpath(base))
    except (OSError, RuntimeError, ValueError):  # a symlink loop: reading it fails later, naming the row
        return False


def missing_file_error(item: FileItem) -> BadInputError:
    path = item.path
    try:
        problem = ("is a folder, not an image file" if path.is_dir() else
                   "is a broken symlink or a symlink loop" if path.is_symlink() else
                   "is not a regular file" if path.exists() else "file not found")
    except OSError:
        problem = "cannot be opened"
    return BadInputError(item.where, f"{problem}: {path}" if item.where != str(path) else problem)


def _read_rows(csv_path: Path) -> list[dict[str, str]]:
    if not csv_path.is_file():
        raise BadInputError(csv_path, "CSV file not found")
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            reader.fieldnames = columns
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadInputError(csv_path, f"not a readable CSV ({exc})") from None
    missing = [c for c in ("path", "label") if c not in columns]
    if missing:
        raise BadInputError(csv_path, f"CSV needs columns path and label; missing {', '.join(missing)} "
                                      f"(has {', '.join(columns) or 'no header'})")
    if not rows:
        raise BadInputError(csv_path, "CSV has no rows")
    return rows


def _class_index(raw_labels: list[str]) -> tuple[list[str], dict[str, int]]:
    """Integer labels keep their numeric order (0, 1, 2, 10); names are sorted alphabetically."""
    names = sorted(set(raw_labels))
    if all(_is_int(v) for v in names):
        names = sorted(names, key=int)
    return names, {name: i for i, name in enumerate(names)}


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _row_split(csv_path: Path, i: int, row: dict[str, str]) -> str:
    value = (row.get("split") or "").strip().lower()
    if value not in SPLIT_NAMES:
        shown = value or "empty"
        raise BadInputError(csv_path, f"row {i + 2}: split '{shown}' is not train, val or test "
                                      "(fill the split column for every row, or drop it)")
    return SPLIT_NAMES[value]
