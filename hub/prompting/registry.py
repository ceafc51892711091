"""Load prompts by exact version, keep released ones immutable, resolve pins, render messages."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

import yaml
from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError, meta
from jinja2.sandbox import SandboxedEnvironment
from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.prompting.outputs import OUTPUT_SCHEMAS
from hub.prompting.semver import Bump

if TYPE_CHECKING:
    from hub.settings import Settings

LOCK_FILE = "prompts.lock"
"""JSON object, "use_case@version" → sha256 of the released file's bytes, sorted by use case then semver."""
PINS_FILE = "pins.toml"
"""TOML table, use case → the exact default version."""
SYSTEM_HEADER = "## system"
USER_HEADER = "## user"

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_USE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_FRONT_MATTER_ORDER = ("id", "version", "model", "params", "output", "changelog")

# Variables are data (customer text, tool results), never template source, so the sandbox only has to
# stop a template itself from reaching Python internals.
_ENV = SandboxedEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
    trim_blocks=True,
    lstrip_blocks=True,
)


@lru_cache(maxsize=256)
def schema_text(model_cls: type[BaseModel]) -> str:
    """A model's JSON schema as prompt text; generating it costs about a millisecond, so once per class."""
    return json.dumps(model_cls.model_json_schema(), ensure_ascii=False)


class PromptError(ValueError):
    """A prompt file, the lock, a pin or a render the caller can fix: the message names it."""


def default_prompts_dir() -> Path:
    """Return the repository's `prompts/` folder."""
    return Path(__file__).resolve().parents[2] / "prompts"


def load_prompts(settings: Settings) -> PromptRegistry:
    """Return the registry this deployment serves: HUB_PROMPTS_DIR, or the repository's `prompts/`."""
    return PromptRegistry.load(settings.prompts_dir or default_prompts_dir())


def is_exact_version(version: str) -> bool:
    """Tell whether `version` is strict MAJOR.MINOR.PATCH, the only form a prompt version or pin takes."""
    return bool(_SEMVER.match(version))


class PromptParams(BaseModel):
    """Sampling parameters a prompt file may set; a typo is an error, not a silently ignored key."""

    model_config = ConfigDict(extra="forbid", strict=True)

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    stop: list[str] | None = Field(default=None, max_length=4)


class FrontMatter(BaseModel):
    """The YAML block at the top of a prompt file."""

    model_config = ConfigDict(extra="forbid", strict=True, protected_namespaces=())

    id: str
    version: str
    model: str | None
    """A model hint for the gateway; null leaves the choice to settings."""
    params: PromptParams
    output: str | None
    """An output schema name, or null for a tool-calling agent prompt that answers in plain text."""
    changelog: str = Field(min_length=1)


@dataclass(frozen=True)
class Prompt:
    """One version of one use case's prompt, parsed and compiled."""

    use_case: str
    version: str
    sha256: str
    """Of the file's bytes; for a released prompt it equals the lock entry."""
    released: bool
    model: str | None = field(compare=False)
    params: Mapping[str, Any] = field(compare=False)
    output: str | None = field(compare=False)
    """Name of the output schema in OUTPUT_SCHEMAS; None for an agent prompt (tool calls and plain text)."""
    output_model: type[BaseModel] | None = field(compare=False, repr=False)
    changelog: str = field(compare=False, repr=False)
    template: str = field(compare=False, repr=False)
    """The body after the front matter: the `## system` and `## user` sections."""
    path: Path = field(compare=False)
    variables: frozenset[str] = field(compare=False, repr=False)
    """Names the template reads; `render` needs each one unless the template guards it with `is defined`."""
    _system: Template = field(compare=False, repr=False)
    _user: Template = field(compare=False, repr=False)

    @property
    def ref(self) -> str:
        return f"{self.use_case}@{self.version}"

    @property
    def kind(self) -> str:
        """`structured` (one JSON object against `output`) or `agent` (tool calls, then plain text)."""
        return "agent" if self.output is None else "structured"

    def output_json_schema(self) -> str:
        """Return the output model's JSON schema as text, for the `output_schema` variable."""
        if self.output_model is None:
            raise PromptError(f"prompt {self.ref} is an agent prompt (output: null): it has no output schema")
        return schema_text(self.output_model)

    def render(self, variables: Mapping[str, Any]) -> list[dict[str, str]]:
        """Render the system and user messages; a missing variable raises PromptError naming it."""
        values = dict(variables)
        messages: list[dict[str, str]] = []
        for role, template in (("system", self._system), ("user", self._user)):
            try:
                content = template.render(values)
            except UndefinedError as exc:
                missing = sorted(self.variables.difference(values))
                noun = "variable" if len(missing) == 1 else "variables"
                problem = f"missing {noun} {', '.join(map(repr, missing))}" if missing else str(exc.message)
                raise PromptError(f"prompt {self.ref} ({self.path}): {problem}") from None
            except TemplateError as exc:
                raise PromptError(f"prompt {self.ref} ({self.path}): {role} section failed to render: {exc}") from None
            messages.append({"role": role, "content": content.strip()})
        return messages


class PromptRegistry:
    """Every prompt under one root, the lock of released hashes and the default pins."""

    def __init__(
        self, root: Path, prompts: dict[str, dict[str, Prompt]], pins: dict[str, str], *, drafts: bool = False
    ) -> None:
        self.root = root
        self._prompts = prompts
        self._pins = pins
        self._drafts = drafts

    def for_evals(self) -> PromptRegistry:
        """The same prompts, with drafts selectable by exact version: evals run a draft before its release."""
        return PromptRegistry(self.root, self._prompts, self._pins, drafts=True)

    @classmethod
    def load(cls, root: Path) -> PromptRegistry:
        """Parse every prompt file, check released ones against the lock and check the default pins."""
        if not root.is_dir():
            raise PromptError(f"prompts folder {root} does not exist")
        problems: list[str] = []
        lock = _read_lock(root, problems)
        prompts: dict[str, dict[str, Prompt]] = {}
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            if not _USE_CASE.match(folder.name):
                problems.append(
                    f"{_display(root, folder)}: a use case folder is named in snake_case, e.g. customer_reply"
                )
                continue
            for path in sorted(folder.glob("*.md")):
                try:
                    prompt = _load_file(root, folder.name, path, lock)
                except PromptError as exc:
                    problems.append(str(exc))
                    continue
                prompts.setdefault(folder.name, {})[prompt.version] = prompt
        for ref in lock:
            use_case, version = ref.split("@")
            if not (root / use_case / f"{version}.md").is_file():
                problems.append(
                    f"{_display(root, root / LOCK_FILE)}: released prompt {ref} has no file {use_case}/{version}.md; "
                    "released prompts are never deleted"
                )
        for use_case in prompts:
            prompts[use_case] = dict(sorted(prompts[use_case].items(), key=lambda item: Version(item[0])))
        pins = _read_pins(root, prompts, problems)
        if problems:
            raise PromptError("\n".join(problems))
        return cls(root, prompts, pins)

    def use_cases(self) -> list[str]:
        return sorted(self._prompts)

    def versions(self, use_case: str) -> list[str]:
        """Return every version of a use case, drafts included, lowest first by semver."""
        return list(self._versions_of(use_case))

    def get(self, use_case: str, version: str, *, allow_drafts: bool = False) -> Prompt:
        """Return exactly `use_case@version`; drafts only with allow_drafts (evals)."""
        versions = self._versions_of(use_case)
        if not is_exact_version(version):
            raise PromptError(
                f"prompt version {version!r} for {use_case} is not an exact MAJOR.MINOR.PATCH version; "
                "HUB never resolves 'latest'"
            )
        prompt = versions.get(version)
        if prompt is None:
            raise PromptError(f"unknown prompt version {use_case}@{version}; known: {', '.join(versions)}")
        if not prompt.released and not (allow_drafts or self._drafts):
            raise PromptError(
                f"prompt {prompt.ref} is a draft (not in {LOCK_FILE}); release it with "
                f"`hub prompts release {use_case} {version}` first"
            )
        return prompt

    def default_pins(self) -> dict[str, str]:
        return dict(self._pins)

    def resolve(self, use_case: str, tenant_pins: Mapping[str, str]) -> Prompt:
        """Return the tenant's pinned version of a use case, else the default pin; never the newest file."""
        pinned = tenant_pins.get(use_case)
        if pinned is not None:
            self.check_pins({use_case: pinned})
            return self.get(use_case, pinned)
        self._versions_of(use_case)
        default = self._pins.get(use_case)
        if default is None:
            raise PromptError(f"no default pin for {use_case} in {PINS_FILE}; it has no released version yet")
        return self.get(use_case, default)

    def check_pins(self, pins: Mapping[str, str]) -> None:
        """Raise PromptError naming every pin that does not select a released version."""
        bad: list[str] = []
        for use_case, version in sorted(pins.items()):
            if not isinstance(version, str):  # pyright: ignore[reportUnnecessaryIsInstance]  # a tenant's stored pins are any JSON
                bad.append(f"prompt pin {use_case}={version!r}: a pin is a version string like '1.0.0'")
                continue
            try:
                pinned = self.get(use_case, version)
            except PromptError as exc:
                bad.append(f"prompt pin {use_case}={version!r}: {exc}")
                continue
            default = self._pins.get(use_case)
            expected = self.get(use_case, default).output if default is not None else pinned.output
            if pinned.output != expected:
                bad.append(
                    f"prompt pin {use_case}={version!r}: {pinned.ref} answers with {_answer_kind(pinned.output)}, but "
                    f"this HUB calls {use_case} expecting {_answer_kind(expected)} (its default pin {default}); "
                    "pin a version with the same output"
                )
        if bad:
            raise PromptError("; ".join(bad))

    def new_version(self, use_case: str, bump: Bump, changelog: str) -> Path:
        """Copy the highest version of a use case to the next semver as a draft and return its path."""
        versions = self._versions_of(use_case)
        if not changelog.strip():
            raise PromptError(f"a new version of {use_case} needs a changelog line saying what changes")
        current = versions[next(reversed(versions))]
        major, minor, patch = (int(part) for part in current.version.split("."))
        bumped = {"major": (major + 1, 0, 0), "minor": (major, minor + 1, 0), "patch": (major, minor, patch + 1)}
        if bump not in bumped:
            raise PromptError(f"bump must be one of major, minor, patch, not {bump!r}")
        version = ".".join(map(str, bumped[bump]))
        target = current.path.with_name(f"{version}.md")
        front_matter, body = _split(current.path.read_text(encoding="utf-8"), _display(self.root, current.path))
        data = yaml.safe_load(front_matter)
        data.update(version=version, changelog=changelog.strip())
        ordered = {key: data[key] for key in _FRONT_MATTER_ORDER if key in data}
        dumped = yaml.dump(ordered, Dumper=_FrontMatterDumper, sort_keys=False, allow_unicode=True, width=4096)
        text = f"---\n{dumped}---\n{body}"
        draft = _parse(self.root, use_case, target, text.encode("utf-8"), released=False)
        try:
            with target.open("x", encoding="utf-8", newline="") as f:
                f.write(text)
        except FileExistsError:
            raise PromptError(f"{_display(self.root, target)} already exists") from None
        versions[version] = draft
        return target

    def release(self, use_case: str, version: str) -> Prompt:
        """Record a version's sha256 in the lock; from then on its file must never change."""
        prompt = self.get(use_case, version, allow_drafts=True)
        where = _display(self.root, prompt.path)
        released = _parse(self.root, use_case, prompt.path, prompt.path.read_bytes(), released=True)
        problems: list[str] = []
        lock = _read_lock(self.root, problems)
        if problems:
            raise PromptError("\n".join(problems))
        recorded = lock.get(released.ref)
        if recorded is not None and recorded != released.sha256:
            raise PromptError(
                f"{where}: {released.ref} is already released with sha256 {recorded}, but the file now hashes to "
                f"{released.sha256}; released prompts are immutable, create a new version instead"
            )
        if recorded is None:
            lock[released.ref] = released.sha256
            _write_lock(self.root, lock)
        self._prompts[use_case][version] = released
        return released

    def diff(self, use_case: str, a: str, b: str) -> str:
        """Return a unified diff of two versions' files, drafts included."""
        old, new = self.get(use_case, a, allow_drafts=True), self.get(use_case, b, allow_drafts=True)
        return "".join(
            difflib.unified_diff(
                old.path.read_text(encoding="utf-8").splitlines(keepends=True),
                new.path.read_text(encoding="utf-8").splitlines(keepends=True),
                fromfile=_display(self.root, old.path),
                tofile=_display(self.root, new.path),
            )
        )

    def _versions_of(self, use_case: str) -> dict[str, Prompt]:
        versions = self._prompts.get(use_case)
        if versions is None:
            raise PromptError(f"unknown prompt use case {use_case!r}; known: {', '.join(self.use_cases())}")
        return versions


class _FrontMatterDumper(yaml.SafeDumper):
    """Write front matter the way people write it: block style, multi-line strings as `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)  # pyright: ignore[reportUnknownMemberType]  # typeshed's yaml leaves `value` untyped


_FrontMatterDumper.add_representer(str, _represent_str)


def _answer_kind(output: str | None) -> str:
    return "plain text and tool calls (an agent prompt)" if output is None else f"JSON output {output!r}"


def _display(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root.parent).as_posix()
    except ValueError:
        return str(path)


def _load_file(root: Path, use_case: str, path: Path, lock: Mapping[str, str]) -> Prompt:
    where = _display(root, path)
    if not is_exact_version(path.stem):
        raise PromptError(f"{where}: a prompt file is named <MAJOR.MINOR.PATCH>.md, e.g. 1.0.0.md")
    data = path.read_bytes()
    ref = f"{use_case}@{path.stem}"
    recorded = lock.get(ref)
    if recorded is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != recorded:
            raise PromptError(
                f"{where}: released prompt {ref} has changed (sha256 {actual}, {LOCK_FILE} has {recorded}); "
                f"released prompts are immutable: restore the file and make the change in a new version "
                f"(`hub prompts new {use_case} --bump patch --changelog ...`)"
            )
    return _parse(root, use_case, path, data, released=recorded is not None)


def _split(text: str, where: str) -> tuple[str, str]:
    """Split a prompt file into its front matter and its body."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "---":
        raise PromptError(f"{where}: must start with a `---` line that opens the YAML front matter")
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip("\r\n") == "---"), None)
    if end is None:
        raise PromptError(f"{where}: the front matter has no closing `---` line")
    return "".join(lines[1:end]), "".join(lines[end + 1 :])


def _parse(root: Path, use_case: str, path: Path, data: bytes, *, released: bool) -> Prompt:
    where = _display(root, path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PromptError(f"{where}: not UTF-8 text") from None
    front_matter, body = _split(text, where)
    try:
        raw = yaml.safe_load(front_matter)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 2 if exc.problem_mark else "?"
        raise PromptError(f"{where}: front matter is not valid YAML at line {line}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise PromptError(f"{where}: front matter is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise PromptError(f"{where}: front matter must be a YAML mapping with keys {', '.join(_FRONT_MATTER_ORDER)}")
    try:
        fm = FrontMatter.model_validate(raw)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or 'front matter'}: {err['msg']}" for err in exc.errors()
        )
        raise PromptError(f"{where}: bad front matter: {details}") from None
    if fm.id != use_case:
        raise PromptError(f"{where}: id {fm.id!r} does not match its folder {use_case!r}")
    if fm.version != path.stem:
        raise PromptError(f"{where}: version {fm.version!r} does not match the file name {path.name!r}")
    output_model = OUTPUT_SCHEMAS.get(fm.output) if fm.output is not None else None
    if fm.output is not None and output_model is None:
        raise PromptError(f"{where}: unknown output schema {fm.output!r}; known: {', '.join(sorted(OUTPUT_SCHEMAS))}")
    first_body_line = front_matter.count("\n") + 3
    (system_source, system_line), (user_source, user_line) = _sections(body, first_body_line, where)
    system, system_vars = _compile(system_source, system_line, where)
    user, user_vars = _compile(user_source, user_line, where)
    return Prompt(
        use_case=use_case,
        version=fm.version,
        sha256=hashlib.sha256(data).hexdigest(),
        released=released,
        model=fm.model,
        params=MappingProxyType(fm.params.model_dump(exclude_none=True)),
        output=fm.output,
        output_model=output_model,
        changelog=fm.changelog,
        template=body,
        path=path,
        variables=frozenset(system_vars | user_vars),
        _system=system,
        _user=user,
    )


def _sections(body: str, first_line: int, where: str) -> tuple[tuple[str, int], tuple[str, int]]:
    """Split the body into the system and user template sources, each with its first line in the file."""
    lines = body.splitlines(keepends=True)
    headers = [(i, line.strip()) for i, line in enumerate(lines) if line.strip() in (SYSTEM_HEADER, USER_HEADER)]
    if [name for _, name in headers] != [SYSTEM_HEADER, USER_HEADER]:
        raise PromptError(
            f"{where}: the body must have one `{SYSTEM_HEADER}` line followed by one `{USER_HEADER}` line"
        )
    (system_at, _), (user_at, _) = headers
    if any(line.strip() for line in lines[:system_at]):
        raise PromptError(f"{where}: only blank lines may come before `{SYSTEM_HEADER}`")
    system = ("".join(lines[system_at + 1 : user_at]), first_line + system_at + 1)
    user = ("".join(lines[user_at + 1 :]), first_line + user_at + 1)
    for source, line in (system, user):
        if not source.strip():
            raise PromptError(f"{where}: the section starting at line {line - 1} is empty")
    return system, user


def _compile(source: str, first_line: int, where: str) -> tuple[Template, set[str]]:
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        line = first_line + (exc.lineno or 1) - 1
        raise PromptError(f"{where}: template syntax error at line {line}: {exc.message}") from None
    template = _ENV.from_string(tree)
    # Jinja keeps a template's globals as a ChainMap over the environment's and copies it into every
    # render's context; one plain dict, made once, halves what a render costs on the gateway's hot path.
    template.globals = dict(template.globals)
    return template, meta.find_undeclared_variables(tree)


def _read_lock(root: Path, problems: list[str]) -> dict[str, str]:
    path = root / LOCK_FILE
    if not path.exists():
        return {}
    where = _display(root, path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        problems.append(f"{where}: not valid JSON: {exc}")
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a JSON object mapping use_case@version to sha256")
        return {}
    lock: dict[str, str] = {}
    for ref, digest in cast("dict[str, Any]", raw).items():  # a JSON object: its keys are strings
        use_case, _, version = ref.partition("@")
        if not (_USE_CASE.match(use_case) and is_exact_version(version)):
            problems.append(f"{where}: {ref!r} is not use_case@MAJOR.MINOR.PATCH")
        elif not (isinstance(digest, str) and _SHA256.match(digest)):
            problems.append(f"{where}: {ref} has {digest!r}, not a lowercase hex sha256")
        else:
            lock[ref] = digest
    return lock


def _write_lock(root: Path, lock: Mapping[str, str]) -> None:
    def order(ref: str) -> tuple[str, Version]:
        use_case, version = ref.split("@")
        return use_case, Version(version)

    text = json.dumps({ref: lock[ref] for ref in sorted(lock, key=order)}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{LOCK_FILE}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, root / LOCK_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_pins(root: Path, prompts: Mapping[str, Mapping[str, Prompt]], problems: list[str]) -> dict[str, str]:
    """Read the default pins; each must name a released version, and every released use case needs one."""
    path = root / PINS_FILE
    where = _display(root, path)
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"{where}: not valid TOML: {exc}")
            return {}
    pins: dict[str, str] = {}
    for use_case, version in raw.items():
        versions = prompts.get(use_case)
        if not isinstance(version, str):
            problems.append(f'{where}: default pin {use_case} = {version!r} must be a version string like "1.0.0"')
        elif versions is None:
            problems.append(f"{where}: default pin for unknown use case {use_case!r}")
        elif version not in versions:
            problems.append(f"{where}: default pin {use_case} = {version!r} names an unknown version of {use_case}")
        elif not versions[version].released:
            problems.append(f"{where}: default pin {use_case} = {version!r} names a draft; release it first")
        else:
            pins[use_case] = version
    for use_case, versions in prompts.items():
        released = [v for v, p in versions.items() if p.released]
        if released and use_case not in raw:
            problems.append(f'{where}: no default pin for {use_case}; add `{use_case} = "{released[-1]}"`')
    return pins
