"""Accuracy beside cost: reported, measured and from-scratch numbers, never mixed up.

Public API:
- :class:`AccuracyTask`, :func:`parse_tasks`, :func:`expand_accuracy` — suite ``accuracy:``
  entries → cells (``task="accuracy"``);
- :func:`override_data_dir` — what ``--data PATH`` does to a suite;
- :func:`run_accuracy_cell` — run one cell inside a worker, returning row fields;
- :func:`register_small_models` — the ``archbench:*_small`` small-image variants.
"""

from bench.accuracy.cells import ROW_FIELDS, run_accuracy_cell
from bench.accuracy.small_models import register_small_models
from bench.accuracy.task import AccuracyModel, AccuracyTask, expand_accuracy, override_data_dir, parse_tasks

__all__ = [
    "ROW_FIELDS",
    "AccuracyModel",
    "AccuracyTask",
    "expand_accuracy",
    "override_data_dir",
    "parse_tasks",
    "register_small_models",
    "run_accuracy_cell",
]
