"""Make every process started with this folder on PYTHONPATH see only what `bin/setup run` installs.

The test venv holds every extra; a serving host holds HUB's core dependencies and what they pull in, nothing
else. This works out that closure from the installed packages' metadata (HUB's `Requires-Dist` without
extras, recursively, each requirement's own extras included) and hides every other distribution's modules:
`sys.modules[name] = None` is how Python spells "not installed" (`import torch` raises ModuleNotFoundError,
`importlib.util.find_spec("torch")` returns None), so optional-import guards take their real branch and a
core dependency that only an extra happened to bring is caught here rather than on a fresh host.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ALWAYS_THERE = {"pip", "setuptools"}
"""What `python -m venv` itself puts into a fresh environment on Python 3.11."""


def core_closure(root: str = "hub") -> set[str]:
    """Canonical names of `root` and everything its core requirements pull in."""
    seen: set[tuple[str, str]] = set()
    names: set[str] = set()
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while todo:
        name, extras = todo.pop()
        name = canonicalize_name(name)
        fresh = {(name, extra) for extra in {"", *extras}} - seen
        if not fresh:
            continue
        seen |= fresh
        names.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for raw in requires:
            req = Requirement(raw)
            if req.marker is None or any(req.marker.evaluate({"extra": extra}) for _, extra in fresh):
                todo.append((req.name, frozenset(req.extras)))
    return names


def hide_everything_else() -> None:
    keep = core_closure() | ALWAYS_THERE
    for module, dists in packages_distributions().items():
        if module not in sys.modules and not any(canonicalize_name(d) in keep for d in dists):
            sys.modules[module] = None  # type: ignore[assignment]


hide_everything_else()
