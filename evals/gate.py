"""The regression gate: a prompt version must meet or beat its predecessor's baseline within the tolerances.

Baselines live in `evals/baselines/<use_case>@<version>.json`: the version's suite metrics under the
simulated model, with the hash of the golden set they were measured on. A version is *due* when it has no
baseline or its baseline was measured on a different golden set (the eval set changed). `hub eval gate`
runs every due version against its predecessor (the nearest lower version); `--record` writes the
baselines of those that pass.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.version import Version

from evals.metrics import LOWER_IS_BETTER, summarise

EVALS_DIR = Path(__file__).resolve().parent
BASELINES_DIR = EVALS_DIR / "baselines"
GATE_FILE = EVALS_DIR / "gate.toml"


@dataclass(frozen=True)
class Tolerances:
    absolute: dict[str, float]
    relative: dict[str, float]
    floors: dict[str, float]

    @classmethod
    def load(cls, path: Path = GATE_FILE, *, quality: bool = False) -> Tolerances:
        """The contract gate's tolerances, or (`quality`) the quality gate's, from the `[quality]` section."""
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        if quality:
            data = data.get("quality", {})
        return cls(data.get("worse_by_at_most", {}), data.get("relative", {}), data.get("floors", {}))


@dataclass(frozen=True)
class Baseline:
    use_case: str
    prompt_version: str
    golden_sha256: str
    metrics: dict[str, float]
    recorded_at: str
    cases: dict[str, dict[str, float]] = field(default_factory=dict)
    """Case id → its scores, so a run over some of the cases (`--limit`) is compared like for like."""

    def over(self, case_ids: list[str]) -> Baseline:
        """The baseline restricted to these cases (the whole baseline if it lacks any of them)."""
        if not self.cases or not case_ids or any(i not in self.cases for i in case_ids):
            return self
        if len(case_ids) == len(self.cases):
            return self
        return replace(self, metrics=summarise(self.cases[i] for i in case_ids))

    @staticmethod
    def path(use_case: str, version: str, root: Path = BASELINES_DIR) -> Path:
        return root / f"{use_case}@{version}.json"

    @classmethod
    def load(cls, use_case: str, version: str, root: Path = BASELINES_DIR) -> Baseline | None:
        path = cls.path(use_case, version, root)
        if not path.is_file():
            return None
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def save(self, root: Path = BASELINES_DIR) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        path = self.path(self.use_case, self.prompt_version, root)
        path.write_text(json.dumps(self.__dict__, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path

    @classmethod
    def of(
        cls,
        use_case: str,
        version: str,
        golden_sha256: str,
        metrics: dict[str, float],
        per_case: list[dict[str, Any]] | None = None,
    ) -> Baseline:
        def kept(scores: dict[str, float]) -> dict[str, float]:
            return {k: round(v, 6) for k, v in sorted(scores.items()) if not k.startswith("latency")}

        cases = {c["id"]: kept(c["scores"]) for c in per_case or []}
        return cls(
            use_case, version, golden_sha256, kept(metrics), datetime.now(UTC).isoformat(timespec="seconds"), cases
        )


def regressions(current: dict[str, float], baseline: dict[str, float], tolerances: Tolerances) -> list[str]:
    """Say, metric by metric, where `current` is worse than `baseline` by more than the tolerance."""
    found = []
    for name, allowed in tolerances.absolute.items():
        if name not in current or name not in baseline:
            continue
        worse = (current[name] - baseline[name]) if name in LOWER_IS_BETTER else (baseline[name] - current[name])
        if worse > allowed + 1e-9:
            found.append(f"{name} {current[name]:.3f} vs baseline {baseline[name]:.3f} (allowed {allowed:.3f} worse)")
    for name, allowed in tolerances.relative.items():
        if name in current and name in baseline and current[name] > baseline[name] * (1 + allowed) + 1e-12:
            found.append(f"{name} {current[name]:.6f} vs baseline {baseline[name]:.6f} (allowed +{allowed:.0%})")
    return found


def below_floors(current: dict[str, float], tolerances: Tolerances) -> list[str]:
    return [
        f"{name} {current[name]:.3f} is below the floor {floor:.3f}"
        for name, floor in tolerances.floors.items()
        if name in current and current[name] < floor
    ]


def predecessor(versions: list[str], version: str) -> str | None:
    """The nearest lower version of the same use case: what a new version must meet or beat."""
    lower = [v for v in versions if Version(v) < Version(version)]
    return max(lower, key=Version) if lower else None


def due(use_case: str, versions: list[str], golden_sha256: str, root: Path = BASELINES_DIR) -> list[str]:
    """Versions without a baseline on the current golden set, lowest first."""
    out = []
    for version in sorted(versions, key=Version):
        baseline = Baseline.load(use_case, version, root)
        if baseline is None or baseline.golden_sha256 != golden_sha256:
            out.append(version)
    return out


def verdict(
    metrics: dict[str, float], baseline: Baseline | None, tolerances: Tolerances, *, model_path: bool
) -> tuple[bool, list[str]]:
    """Pass or fail a run, with the reasons; runs with no model are held to nothing prompt-related."""
    reasons: list[str] = []
    if model_path:
        reasons += below_floors(metrics, tolerances)
        if baseline is not None:
            reasons += regressions(metrics, baseline.metrics, tolerances)
    if not reasons:
        against = f"{baseline.use_case}@{baseline.prompt_version}" if baseline else "the floors"
        return True, [f"meets or beats {against}" if model_path else "no model: scores describe the engine"]
    return False, reasons


def quality_baseline_path(root: Path, use_case: str, version: str, model: str) -> Path:
    """`<root>/<use_case>@<version>@<model>.json`: judged scores depend on the model that answered."""
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in model)
    return root / f"{use_case}@{version}@{safe}.json"


def load_quality_baseline(root: Path, use_case: str, version: str, model: str) -> Baseline | None:
    path = quality_baseline_path(root, use_case, version, model)
    if not path.is_file():
        return None
    return Baseline(**json.loads(path.read_text(encoding="utf-8")))


def save_quality_baseline(root: Path, baseline: Baseline, model: str) -> Path:
    path = quality_baseline_path(root, baseline.use_case, baseline.prompt_version, model)
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baseline.__dict__, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def quality_verdict(
    metrics: dict[str, float], baseline: Baseline | None, tolerances: Tolerances, judged: frozenset[str]
) -> tuple[bool, list[str]]:
    """Pass or fail a judged run against the quality baseline of the version in use, on the judged metrics."""
    if not judged & metrics.keys():
        return False, ["no judged scores: the judge model did not answer (see the log), so quality is unknown"]
    reasons = below_floors(metrics, tolerances)
    if baseline is None:
        reasons.append("no quality baseline for the version in use on this model: record one with --record")
    else:
        reasons += regressions(metrics, baseline.metrics, tolerances)
    if reasons:
        return False, reasons
    assert baseline is not None
    return True, [f"judged scores meet or beat the quality baseline of {baseline.use_case}@{baseline.prompt_version}"]
