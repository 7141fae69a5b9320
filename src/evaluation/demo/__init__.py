"""The demo dataset: every table of the contract plus the e-Intervention message log.

``opeval demo [--scale small|medium|large] [--seed N] [--out DIR] [--force]``
writes the files (:func:`generate`) and builds the database from them with the
ordinary loader (:func:`build`). The patterns the analyses must find are
planted on fixed ids; ``docs/demo.md`` and the written ``patterns.json`` list them.
"""
from .build import FILES, MESSAGES_FILE, PATTERNS_FILE, Built, Generated, build, generate
from .common import AS_OF, SCALES
from .locate import demo_database

__all__ = ["AS_OF", "FILES", "MESSAGES_FILE", "PATTERNS_FILE", "SCALES", "Built", "Generated",
           "build", "demo_database", "generate"]
