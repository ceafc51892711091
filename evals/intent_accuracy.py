"""Measure how well the deterministic intent router places messages it never saw, in each of its six languages.

Run `python -m evals.intent_accuracy [--chart confusion.png]`. Every figure is on messages the router was not trained
on:

1. a stratified 75/25 split of the training files (`agents/router.py` `TRAINING_PATHS`: the original English file
   and the paraphrase families), trained on 75%, tested on the rest;
2. 5-fold stratified cross-validation on the same messages;
3. the held-out files (`HOLDOUT_PATHS`: the original English holdout, written in a messier style, and the
   paraphrases held out per language), scored against the router `IntentRouter.default()` ships, and against the
   n-gram head alone (the router before the sentence encoder) side by side: overall, per language, per intent,
   and a confusion table;
4. cross-source: trained on one family of phrasings, tested on another (the original file against the new
   paraphrase families, each way; each language's everyday phrasings against its typed-in-a-hurry styles).

Accuracy counts the intent the router acts on, so a low-confidence fallback to `out_of_scope` is a miss unless the
message really is out of scope.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agents.router import (
    EXAMPLES_PATH,
    INTENTS,
    PARAPHRASES_PATH,
    Example,
    IntentRouter,
    load_examples,
    load_holdout_examples,
    load_training_examples,
)
from hub.languages import LANGUAGES
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
    languages: list[str] = field(default_factory=list)
    """The language of each message of `pairs`."""
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

    def per_language(self) -> dict[str, Report]:
        """Split the report by the messages' language."""
        parts: dict[str, Report] = {}
        for pair, language in zip(self.pairs, self.languages, strict=True):
            part = parts.setdefault(language, Report())
            part.pairs.append(pair)
            part.languages.append(language)
        return {language: parts[language] for language in LANGUAGES if language in parts}

    def matrix(self) -> list[list[int]]:
        """Return counts[true][routed], rows and columns in `INTENTS` order."""
        counts = [[0] * len(INTENTS) for _ in INTENTS]
        for true, routed in self.pairs:
            counts[INTENTS.index(true)][INTENTS.index(routed)] += 1
        return counts

    def confusions(self, top: int = 10) -> list[tuple[tuple[Intent, Intent], int]]:
        """Return the most frequent (true, routed) pairs among mistakes."""
        return Counter((t, p) for t, p in self.pairs if t is not p).most_common(top)

    def extend(self, other: Report) -> None:
        self.pairs.extend(other.pairs)
        self.languages.extend(other.languages)
        self.fallbacks += other.fallbacks


def evaluate(router: IntentRouter, examples: Sequence[Example]) -> Report:
    """Route every example and collect (true, routed) pairs."""
    report = Report()
    for example in examples:
        routed = router.route(example.text)
        report.pairs.append((example.intent, routed.intent))
        report.languages.append(example.language)
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


def cross_source(examples: Sequence[Example]) -> list[tuple[str, Report]]:
    """Train on one family of phrasings and test on another; return (what was tried, report) pairs."""
    original = [e for e in examples if e.source == "original"]
    paraphrases = [e for e in examples if e.source != "original"]
    english_paraphrases = [e for e in paraphrases if e.language == "en"]
    splits: list[tuple[str, Callable[[Example], bool], Callable[[Example], bool]]] = [
        ("everyday phrasings -> typed-in-a-hurry styles (6 languages)", _is_everyday, _is_styles),
        ("typed-in-a-hurry styles -> everyday phrasings (6 languages)", _is_styles, _is_everyday),
    ]
    results = [
        (
            "original English file -> English paraphrase families",
            evaluate(IntentRouter.train(original), english_paraphrases),
        ),
        ("original English file -> all paraphrase families", evaluate(IntentRouter.train(original), paraphrases)),
        ("paraphrase families -> original English file", evaluate(IntentRouter.train(paraphrases), original)),
    ]
    for title, train_on, test_on in splits:
        # The original file stays in training: the question is whether one way of writing carries to another.
        train = [e for e in examples if not test_on(e) and (e.source == "original" or train_on(e))]
        results.append((title, evaluate(IntentRouter.train(train), [e for e in examples if test_on(e)])))
    return results


def _is_styles(example: Example) -> bool:
    return example.source.endswith("_styles")


def _is_everyday(example: Example) -> bool:
    return example.source != "original" and not _is_styles(example)


def _print_report(title: str, report: Report, *, details: bool) -> None:
    print(f"\n## {title}: accuracy {report.accuracy:.3f} on {len(report.pairs)} messages", end="")
    print(f" (fallbacks to {Intent.OUT_OF_SCOPE.value}: {report.fallbacks})")
    by_language = report.per_language()
    if len(by_language) > 1:
        print("per language: " + ", ".join(f"{k} {r.accuracy:.3f} (n={len(r.pairs)})" for k, r in by_language.items()))
    if details:
        print(f"{'intent':<20}{'precision':>10}{'recall':>8}{'n':>6}")
        for intent, s in report.per_intent().items():
            print(f"{intent.value:<20}{s.precision:>10.2f}{s.recall:>8.2f}{s.support:>6}")
    print("top confusions (true -> routed):")
    for (true, routed), count in report.confusions():
        print(f"  {count:>3}  {true.value} -> {routed.value}")


def _print_matrix(report: Report) -> None:
    """Print the confusion table: a row per true intent, a column per routed intent (first four letters)."""
    print("\nconfusion table (rows: true intent, columns: routed intent)")
    print(" " * 20 + "".join(f"{i.value[:4]:>5}" for i in INTENTS))
    for intent, row in zip(INTENTS, report.matrix(), strict=True):
        print(f"{intent.value:<20}" + "".join(f"{n if n else '.':>5}" for n in row))


def _save_chart(report: Report, path: Path) -> None:
    """Draw the confusion table as a heat map, rows normalised to recall."""
    import matplotlib  # only for this optional chart: the eval runs without it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = report.matrix()
    rates = [[n / (sum(row) or 1) for n in row] for row in counts]
    figure, axes = plt.subplots(figsize=(11, 9))
    axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    labels = [i.value for i in INTENTS]
    axes.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    for r, row in enumerate(counts):
        for c, n in enumerate(row):
            if n:
                axes.text(c, r, str(n), ha="center", va="center", color="white" if rates[r][c] > 0.5 else "black")
    axes.set_xlabel("routed")
    axes.set_ylabel("true")
    axes.set_title(f"intent routing on the held-out files, accuracy {report.accuracy:.3f}")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    print(f"\nconfusion chart written to {path}")


def main(argv: Sequence[str] | None = None) -> None:
    assert __doc__ is not None  # the module docstring (stripped only under -OO)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--chart", type=Path, help="also draw the held-out confusion table to this image file")
    parser.add_argument("--no-cv", action="store_true", help="skip the 5-fold cross-validation (the slow part)")
    args = parser.parse_args(argv)

    examples = load_training_examples()
    holdout = load_holdout_examples()
    languages = Counter(e.language for e in examples)
    print(
        f"# intent routing: {len(examples)} training examples "
        f"({len(load_examples(EXAMPLES_PATH))} original, {len(load_examples(PARAPHRASES_PATH))} paraphrases; "
        + ", ".join(f"{k} {v}" for k, v in sorted(languages.items()))
        + f"), {len(holdout)} held-out messages"
    )

    train, test = stratified_split(examples, seed=args.seed)
    _print_report(
        f"held-out split (train {len(train)}, test {len(test)})",
        evaluate(IntentRouter.train(train), test),
        details=False,
    )

    if not args.no_cv:
        accuracies, pooled = cross_validate(examples, seed=args.seed)
        spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        folds = " ".join(f"{a:.3f}" for a in accuracies)
        _print_report(
            f"{len(accuracies)}-fold cross-validation, mean {statistics.mean(accuracies):.3f} ± {spread:.3f} [{folds}]",
            pooled,
            details=False,
        )

    started = time.perf_counter()
    router = IntentRouter.train(examples)
    train_seconds = time.perf_counter() - started
    old_router = IntentRouter.train(load_examples(EXAMPLES_PATH), sentence_weight=0)
    _print_report(
        "held-out files, old router (n-gram head alone, original English file)",
        evaluate(old_router, holdout),
        details=False,
    )
    n_gram_only = IntentRouter.train(examples, sentence_weight=0)
    _print_report(
        "held-out files, n-gram head alone on all the training files",
        evaluate(n_gram_only, holdout),
        details=False,
    )
    report = evaluate(router, holdout)
    _print_report("held-out files, shipped router (never trained on)", report, details=True)
    _print_matrix(report)
    if args.chart:
        _save_chart(report, args.chart)

    for title, cross in cross_source(examples):
        _print_report(f"cross-source: {title}", cross, details=False)

    timings = []
    for example in holdout:
        started = time.perf_counter()
        router.route(example.text + " ")  # a text not routed above, so the sentence vector is not cached
        timings.append(time.perf_counter() - started)
    print(
        f"\nspeed (this machine, informational): training on {len(examples)} examples {train_seconds * 1000:.0f} ms; "
        f"route p50 {statistics.median(timings) * 1000:.1f} ms (encoder included; bench/routing.py for more)"
    )


if __name__ == "__main__":
    main()
