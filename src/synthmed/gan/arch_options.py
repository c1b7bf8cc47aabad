"""The base of a family's own options (a family package's ``Options``): torch-free, so option parsing and
``--help`` can read them without importing the family's networks."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FamilyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
