"""Atomic output: write to a temporary sibling, then rename.

A rename within one filesystem is atomic on POSIX, so a reader (or a resumed run) sees
either the old file or the complete new one, never a half-written file.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from synthmed.errors import SynthmedError


def current_umask() -> int:
    """The process's umask, read without changing it.

    ``os.umask`` can only be read by setting it, which would briefly give files made by other threads
    the wrong mode; Linux shows it in /proc (since 4.7). Elsewhere, set and restore it at once.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def follow_umask(path: Path, directory: bool = False) -> None:
    """Give a temporary file (mkstemp: 0600) or folder (mkdtemp: 0700) the mode a plain ``open``/``mkdir``
    would have given it, so an output renamed into place is as readable as the user's umask allows."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target`` (mode per the umask)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        follow_umask(tmp)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_text(target: str | Path, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def write_json(target: str | Path, obj: Any) -> None:
    write_text(target, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays, Paths: the usual things that end up in results.
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


# When this process started (close enough: when synthmed was imported); a .partial folder older than this
# whose process is gone was left by a run that was killed.
PROCESS_START = time.time()


def check_output_folder(target: Path, overwrite: bool) -> None:
    """An output folder may be new, empty, or (with ``overwrite``) replaced; never a file."""
    if target.exists() and not target.is_dir():
        raise SynthmedError(f"{target}: is a file; the output must be a folder (give a new folder name)")
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise SynthmedError(f"{target}: output folder exists and is not empty (use --overwrite)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SynthmedError(f"{target.parent}: cannot create the output's parent folder ({exc.strerror})") from None


def remove_stale_partials(target: Path, log=None) -> list[Path]:
    """Remove ``.<name>.*.partial`` siblings of ``target`` left by killed runs; say so on stderr.

    Only this target's own kind (its name), only folders older than this process, and never one whose
    recorded process is still running (a concurrent build of the same output).
    """
    removed = []
    for tmp in target.parent.glob(f".{glob.escape(target.name)}.*.partial"):
        pid = _partial_pid(tmp, target.name)
        try:
            older = tmp.stat().st_mtime < PROCESS_START
        except OSError:
            continue
        if not tmp.is_dir() or not older or pid == os.getpid() or (pid is not None and _alive(pid)):
            continue
        shutil.rmtree(tmp, ignore_errors=True)
        removed.append(tmp)
        (log or (lambda m: print(m, file=sys.stderr)))(f"removed {tmp}: a partial folder left by an earlier killed run")
    return removed


def _partial_pid(tmp: Path, name: str) -> int | None:
    head = tmp.name[len(name) + 2 :].split(".", 1)[0]  # ".<name>.<pid>.<random>.partial"
    return int(head) if head.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


@contextlib.contextmanager
def atomic_dir(target: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Build a whole output folder in a temporary sibling and rename it into place at the end (mode per the umask).

    On any exception the temporary folder is removed, so no half-written output is ever left.
    An existing non-empty ``target`` is an error unless ``overwrite``; then it is replaced only
    after the new folder is complete.
    """
    target = Path(target).absolute()
    check_output_folder(target, overwrite)
    remove_stale_partials(target)
    # The pid in the name tells a later run whether the process that built this folder is still alive.
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".partial", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    follow_umask(tmp, directory=True)
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
