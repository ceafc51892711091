"""The house rules the design sets: one-way imports, one model gateway, one Settings reader."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["hub", "tools", "agents", "graphs", "chat_ui", "imaging_service", "evals", "service"]
# What each package may import from the project; anything else is a reversed dependency.
ALLOWED = {
    "hub": {"hub"},
    "tools": {"hub", "tools"},
    "agents": {"hub", "tools", "agents"},
    "graphs": {"hub", "tools", "agents", "graphs"},
    "imaging_service": {"hub", "imaging_service"},
    "evals": {"hub", "tools", "agents", "graphs", "evals"},
    "chat_ui": {"hub", "tools", "agents", "graphs", "imaging_service", "chat_ui"},
    "service": set(PACKAGES),  # the composition root: everything, and nothing imports it
}
ENTRY_SHIMS = {"hub/__main__.py"}
"""`python -m hub`, the console script's twin: an entry point nothing imports, so it may reach the root."""
MODEL_SDKS = {"openai", "langchain_openai"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def project_modules() -> list[tuple[str, Path]]:
    return [(pkg, path) for pkg in PACKAGES for path in sorted((ROOT / pkg).rglob("*.py"))]


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_flow_one_way(package: str) -> None:
    offenders = []
    for pkg, path in project_modules():
        if pkg != package or str(path.relative_to(ROOT)) in ENTRY_SHIMS:
            continue
        reversed_deps = (imports_of(path) & set(PACKAGES)) - ALLOWED[pkg]
        if reversed_deps:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(reversed_deps)}")
    assert offenders == []


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each project module and the project modules it imports anywhere: at module level, inside a function (a
    late import that dodges a circle at run time), or under `if TYPE_CHECKING:` (one a type checker still sees)."""
    names = {module_name(path) for _, path in project_modules()}

    def known(name: str) -> str | None:
        while name and name not in names:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for _, path in project_modules():
        this = module_name(path)
        package = this if path.name == "__init__.py" else this.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets |= {known(alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, *([node.module] if node.module else [])])
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.add(submodule if submodule in names else known(base))
        graph[this] = {t for t in targets if t is not None and t != this}
    return graph


def test_project_modules_import_no_circle() -> None:
    # A circle means neither module can be read, tested or moved without the other; a function-level or
    # TYPE_CHECKING import only hides it. (String imports are refused outright: see the test below.)
    try:
        TopologicalSorter(import_graph()).prepare()
    except CycleError as exc:
        circle = exc.args[1][::-1]  # graphlib lists each module before its importer
        pytest.fail("import circle (each imports the next): " + " -> ".join(circle))


def test_every_dependency_is_an_import_you_can_see() -> None:
    # A module named in a string (`importlib.import_module`, `__import__`) is an edge no reader, test or refactoring
    # tool sees; renaming it breaks only at run time. Only the composition root wires, and it uses real imports too.
    dynamic = {"import_module", "__import__"}
    offenders = sorted(
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for _, path in project_modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in dynamic
    )
    assert offenders == []


def test_only_the_gateway_imports_a_model_sdk() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for _, path in project_modules()
        if imports_of(path) & MODEL_SDKS and "gateway" not in path.relative_to(ROOT).parts[:2]
    ]
    assert offenders == []


def test_audit_events_are_built_by_one_writer() -> None:
    # Every audit row takes its shape from `hub.audit.events`, so the trail reads the same whoever wrote it.
    builders = sorted(
        str(path.relative_to(ROOT))
        for _, path in project_modules()
        if any(
            isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "AuditEvent"
            for node in ast.walk(ast.parse(path.read_text()))
        )
    )
    assert builders == ["hub/audit/events.py"]


def test_settings_are_read_only_by_entry_points() -> None:
    readers = sorted(
        str(path.relative_to(ROOT))
        for _, path in project_modules()
        if "get_settings(" in path.read_text() and path.name not in {"settings.py"}
    )
    # The CLI, and Alembic's env.py when a developer runs `alembic` directly.
    assert readers == ["hub/db/migrations/env.py", "service/cli/common.py"]


def test_every_module_says_what_it_owns() -> None:
    missing = [
        str(path.relative_to(ROOT))
        for _, path in project_modules()
        if path.stat().st_size and ast.get_docstring(ast.parse(path.read_text())) is None
    ]
    assert missing == []
