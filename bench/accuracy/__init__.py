"""Accuracy beside cost: reported, measured and from-scratch numbers, never mixed up.

Public API:
- :data:`AccuracyTask` (``MeasuredTask | ScratchTask | ReportedTask``, keyed on ``source``;
  declared with the suite in bench/config.py), :func:`expand_accuracy` — suite ``accuracy:``
  entries → cells (``task="accuracy"``); :func:`parse_tasks` — a suite's tasks;
- :func:`override_data_dir` — what ``--data PATH`` does to a suite;
- :func:`run_accuracy_cell` — run one cell inside a worker, returning row fields.

The ``archbench:*_small`` small-image variants are in :mod:`bench.accuracy.small_models`,
registered through bench/models/catalog.py.
"""

from bench.accuracy.cells import ROW_FIELDS, run_accuracy_cell
from bench.accuracy.task import (
    AccuracyModel,
    AccuracyTask,
    MeasuredTask,
    ReportedTask,
    ScratchTask,
    expand_accuracy,
    override_data_dir,
    parse_tasks,
)

__all__ = [
    "ROW_FIELDS",
    "AccuracyModel",
    "AccuracyTask",
    "MeasuredTask",
    "ReportedTask",
    "ScratchTask",
    "expand_accuracy",
    "override_data_dir",
    "parse_tasks",
    "run_accuracy_cell",
]
