"""Name the part of a semantic version that a new prompt version raises."""

from typing import Literal

Bump = Literal["major", "minor", "patch"]
