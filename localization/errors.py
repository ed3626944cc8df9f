"""Errors of the localization room.

VigilError
 ├── InvalidInputError
 │    ├── RegionFileError        a region YAML file is malformed (file, field, what is wrong)
 │    └── ModelFileError         a file given to install is not a model of the kind it claims
 └── UnavailableError
      └── ModelMissingError      (core.errors) a model file is not installed: path + install command
"""

from __future__ import annotations

from pathlib import Path

from core.errors import InvalidInputError, ModelMissingError

__all__ = ["ModelFileError", "ModelMissingError", "RegionFileError"]


class RegionFileError(InvalidInputError):
    """A region file cannot be used; the message names the file, the field and the problem."""

    code = "invalid_region_file"

    def __init__(self, path: Path | str, field: str | None, problem: str, line: int | None = None):
        where = f"{path}:{line}" if line else str(path)
        message = f"{where}: {f'field {field!r}: ' if field else ''}{problem}"
        super().__init__(
            message, details={"file": str(path), "field": field, "line": line, "problem": problem}
        )


class ModelFileError(InvalidInputError):
    """A file offered to ``vigil models install`` is not a usable model of that kind."""

    code = "invalid_model_file"
