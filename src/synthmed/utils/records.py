"""Typed JSON records a package writes into a folder and reads back (its stage output's file).

Each stage package declares its own record (``FilterResult``, ``MetricsResult``, ``StatsResult``, the
pipeline's stage and run records) as a subclass with a ``FILE`` name; everything else reaches the file through
``load(folder)`` and ``exists(folder)``, never by its name. The fields are declared and extra keys refused, so
a renamed or missing field fails where the file is read (and in the tests), instead of turning into an empty
section further on. A truncated or corrupt file is one ``BadInputError`` line naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from synthmed.errors import BadInputError
from synthmed.utils.atomic import write_json


class Record(BaseModel):
    """A JSON file ``FILE`` in a folder, with declared fields (subclasses set ``FILE`` and the fields)."""

    model_config = ConfigDict(extra="forbid")
    FILE: ClassVar[str]

    @classmethod
    def path(cls, folder: str | Path) -> Path:
        return Path(folder) / cls.FILE

    @classmethod
    def exists(cls, folder: str | Path | None) -> bool:
        return folder is not None and cls.path(folder).is_file()

    @classmethod
    def load(cls, folder: str | Path) -> Self:
        """The record in ``folder``; missing, truncated or not this record's fields: one line naming the file."""
        path = cls.path(folder)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BadInputError(path, "missing") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadInputError(path, f"truncated or corrupt ({exc})") from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "the file"
            raise BadInputError(path, f"not a valid {cls.__name__} ({where}: {first['msg']}; "
                                      f"{exc.error_count()} problem(s))") from None

    def as_dict(self) -> dict[str, Any]:
        """The record as plain JSON data: the fields in their declared order, optional ones only when given."""
        return self.model_dump(exclude_unset=True)

    def write(self, folder: str | Path) -> Path:
        """Write atomically into ``folder``."""
        path = self.path(folder)
        write_json(path, self.as_dict())
        return path
