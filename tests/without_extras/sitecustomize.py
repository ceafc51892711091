"""Make the optional extras absent in every process started with this folder on PYTHONPATH.

A host installed with `bin/setup run` (or `pip install hub`, no extras) has no torch, diffusers, ragas or browser
stack. `sys.modules[name] = None` is how Python spells "not installed": `import torch` raises
ModuleNotFoundError and `importlib.util.find_spec("torch")` returns None, so optional-import guards take their
real branch.
"""

import sys

EXTRAS = (
    # [imaging]
    "torch",
    "diffusers",
    "transformers",
    "accelerate",
    "peft",
    # [evals]
    "ragas",
    "langchain_community",
    "instructor",
    "rouge_score",
    "sacrebleu",
    # [dev]
    "playwright",
    "pytest",
)

for name in EXTRAS:
    sys.modules[name] = None  # type: ignore[assignment]
