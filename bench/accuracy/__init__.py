"""Accuracy beside cost: reported, measured and from-scratch numbers, never mixed up.

Public API:
- :class:`AccuracyTask`, :func:`parse_tasks`, :func:`expand_accuracy` — suite ``accuracy:``
  entries → cells (``task="accuracy"``);
- :func:`override_data_dir` — what ``--data PATH`` does to a suite;
- :func:`run_accuracy_cell` — run one cell inside a worker, returning row fields.

The ``archbench:*_small`` small-image variants are in :mod:`bench.accuracy.small_models`,
registered through bench/models/catalog.py.
"""

from bench.accuracy.cells import ROW_FIELDS, run_accuracy_cell
from bench.accuracy.task import AccuracyModel, AccuracyTask, expand_accuracy, override_data_dir, parse_tasks

__all__ = [
    "ROW_FIELDS",
    "AccuracyModel",
    "AccuracyTask",
    "expand_accuracy",
    "override_data_dir",
    "parse_tasks",
    "run_accuracy_cell",
]
