"""Reading the JSON files other stages wrote, with the one-line error every reader of them gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthmed.errors import BadInputError


def read_json(path: str | Path) -> Any:
    """Parse ``path``; a file that is not valid UTF-8 JSON raises ``BadInputError`` naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(path, f"not valid JSON ({exc})") from None
