"""Measure how well the deterministic intent router places messages it never saw.

Run `python -m evals.intent_accuracy`. It prints three figures, each on messages the router was not trained on:

1. a stratified 75/25 split of `agents/data/intent_examples.jsonl` (train on 75%, test on the other 25%);
2. 5-fold stratified cross-validation on the same file;
3. `agents/data/intent_holdout.jsonl`, written separately in a messier style and never used for training, scored
   against the router trained on the whole training file (what `IntentRouter.default()` ships).

Accuracy counts the intent the router acts on, so a low-confidence fallback to `out_of_scope` is a miss unless the
message really is out of scope.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agents.router import EXAMPLES_PATH, INTENTS, Example, IntentRouter, load_examples
from hub.prompting.outputs import Intent

HOLDOUT_PATH = EXAMPLES_PATH.with_name("intent_holdout.jsonl")
SEED = 13
TEST_FRACTION = 0.25
FOLDS = 5


@dataclass(frozen=True)
class IntentScores:
    precision: float
    recall: float
    support: int


@dataclass
class Report:
    """Predictions on labelled messages, and the figures computed from them."""

    pairs: list[tuple[Intent, Intent]] = field(default_factory=list)
    """(true intent, routed intent) per message."""
    fallbacks: int = 0

    @property
    def accuracy(self) -> float:
        return sum(t is p for t, p in self.pairs) / len(self.pairs) if self.pairs else 0.0

    def per_intent(self) -> dict[Intent, IntentScores]:
        scores = {}
        for intent in INTENTS:
            true_positive = sum(t is intent and p is intent for t, p in self.pairs)
            predicted = sum(p is intent for _, p in self.pairs)
            support = sum(t is intent for t, _ in self.pairs)
            scores[intent] = IntentScores(
                precision=true_positive / predicted if predicted else 0.0,
                recall=true_positive / support if support else 0.0,
                support=support,
            )
        return scores

    def confusions(self, top: int = 10) -> list[tuple[tuple[Intent, Intent], int]]:
        """Return the most frequent (true, routed) pairs among mistakes."""
        return Counter((t, p) for t, p in self.pairs if t is not p).most_common(top)

    def extend(self, other: Report) -> None:
        self.pairs.extend(other.pairs)
        self.fallbacks += other.fallbacks


def evaluate(router: IntentRouter, examples: Sequence[Example]) -> Report:
    """Route every example and collect (true, routed) pairs."""
    report = Report()
    for example in examples:
        routed = router.route(example.text)
        report.pairs.append((example.intent, routed.intent))
        report.fallbacks += routed.fallback
    return report


def _by_intent(examples: Sequence[Example], seed: int) -> dict[Intent, list[Example]]:
    rng = random.Random(seed)
    groups: dict[Intent, list[Example]] = {}
    for example in examples:
        groups.setdefault(example.intent, []).append(example)
    for group in groups.values():
        rng.shuffle(group)
    return groups


def stratified_split(
    examples: Sequence[Example], *, test_fraction: float = TEST_FRACTION, seed: int = SEED
) -> tuple[list[Example], list[Example]]:
    """Split into (train, test) with the same share of every intent in the test part."""
    train: list[Example] = []
    test: list[Example] = []
    for group in _by_intent(examples, seed).values():
        cut = round(len(group) * test_fraction)
        test.extend(group[:cut])
        train.extend(group[cut:])
    return train, test


def stratified_folds(examples: Sequence[Example], *, folds: int = FOLDS, seed: int = SEED) -> list[list[Example]]:
    """Deal every intent's examples round-robin into `folds` parts."""
    parts: list[list[Example]] = [[] for _ in range(folds)]
    for group in _by_intent(examples, seed).values():
        for i, example in enumerate(group):
            parts[i % folds].append(example)
    return parts


def cross_validate(examples: Sequence[Example], *, folds: int = FOLDS, seed: int = SEED) -> tuple[list[float], Report]:
    """Return each fold's accuracy and the pooled report over all folds."""
    parts = stratified_folds(examples, folds=folds, seed=seed)
    accuracies = []
    pooled = Report()
    for k, test in enumerate(parts):
        train = [e for j, part in enumerate(parts) if j != k for e in part]
        report = evaluate(IntentRouter.train(train), test)
        accuracies.append(report.accuracy)
        pooled.extend(report)
    return accuracies, pooled


def _print_report(title: str, report: Report, *, details: bool) -> None:
    print(f"\n## {title}: accuracy {report.accuracy:.3f} on {len(report.pairs)} messages", end="")
    print(f" (fallbacks to {Intent.OUT_OF_SCOPE.value}: {report.fallbacks})")
    if details:
        print(f"{'intent':<20}{'precision':>10}{'recall':>8}{'n':>6}")
        for intent, s in report.per_intent().items():
            print(f"{intent.value:<20}{s.precision:>10.2f}{s.recall:>8.2f}{s.support:>6}")
    print("top confusions (true -> routed):")
    for (true, routed), count in report.confusions():
        print(f"  {count:>3}  {true.value} -> {routed.value}")


def main(argv: Sequence[str] | None = None) -> None:
    assert __doc__ is not None  # the module docstring (stripped only under -OO)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=Path, default=EXAMPLES_PATH)
    parser.add_argument("--holdout", type=Path, default=HOLDOUT_PATH)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    examples = load_examples(args.examples)
    holdout = load_examples(args.holdout)
    print(f"# intent routing: {len(examples)} training examples, {len(holdout)} holdout messages")

    train, test = stratified_split(examples, seed=args.seed)
    _print_report(
        f"held-out split (train {len(train)}, test {len(test)})",
        evaluate(IntentRouter.train(train), test),
        details=True,
    )

    accuracies, pooled = cross_validate(examples, seed=args.seed)
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    folds = " ".join(f"{a:.3f}" for a in accuracies)
    _print_report(
        f"{len(accuracies)}-fold cross-validation, mean {statistics.mean(accuracies):.3f} ± {spread:.3f} [{folds}]; pooled",
        pooled,
        details=True,
    )

    started = time.perf_counter()
    router = IntentRouter.train(examples)
    train_seconds = time.perf_counter() - started
    _print_report("holdout file (never trained on)", evaluate(router, holdout), details=True)

    timings = []
    for example in holdout:
        started = time.perf_counter()
        router.route(example.text)
        timings.append(time.perf_counter() - started)
    print(
        f"\nspeed (this machine, informational): training on {len(examples)} examples {train_seconds * 1000:.0f} ms; "
        f"route p50 {statistics.median(timings) * 1e6:.0f} µs"
    )


if __name__ == "__main__":
    main()
