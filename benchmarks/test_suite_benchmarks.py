"""pytest-benchmark tests for suite 'ci' (8 cells), generated — do not edit.

Regenerate: python -m bench.pytest_front suites/ci.yaml -o <this file>

Run:     pytest THIS_FILE --benchmark-autosave
Compare: pytest THIS_FILE --benchmark-compare --benchmark-compare-fail=median:10%
Each test times the same model call `archbench run` times (bench.pytest_front.prepare_cell).
"""

import pytest

from bench.pytest_front import prepare_cell, cell_id

CELLS = [
    {'suite': 'ci', 'model': 'test:cnn', 'registry_name': 'test:cnn', 'family': 'cnn', 'device': 'cpu', 'precision': 'fp32', 'runtime': 'eager', 'batch_size': 1, 'img_size': 32, 'threads': 1, 'task': 'speed', 'model_kwargs': {}, 'key': 'ci|speed|test:cnn|cpu|fp32|eager|b1|32px|t1'},
    {'suite': 'ci', 'model': 'test:cnn', 'registry_name': 'test:cnn', 'family': 'cnn', 'device': 'cpu', 'precision': 'fp32', 'runtime': 'eager', 'batch_size': 4, 'img_size': 32, 'threads': 1, 'task': 'speed', 'model_kwargs': {}, 'key': 'ci|speed|test:cnn|cpu|fp32|eager|b4|32px|t1'},
    {'suite': 'ci', 'model': 'test:mobile', 'registry_name': 'test:mobile', 'family': 'mobile', 'device': 'cpu', 'precision': 'fp32', 'runtime': 'eager', 'batch_size': 1, 'img_size': 32, 'threads': 1, 'task': 'speed', 'model_kwargs': {}, 'key': 'ci|speed|test:mobile|cpu|fp32|eager|b1|32px|t1'},
    {'suite': 'ci', 'model': 'test:mobile', 'registry_name': 'test:mobile', 'family': 'mobile', 'device': 'cpu', 'precision': 'fp32', 'runtime': 'eager', 'batch_size': 4, 'img_size': 32, 'threads': 1, 'task': 'speed', 'model_kwargs': {}, 'key': 'ci|speed|test:mobile|cpu|fp32|eager|b4|32px|t1'},
    {'suite': 'ci', 'model': 'test:vit', 'registry_name': 'test:vit', 'family': 'vit', 'device': 'cpu', 'precision': 'fp32', 'runtime': 'eager', 'batch_size': 1, 'img_size': 32, 'threads': 1, 'task': 'speed', 'model_kwargs': {}, 'key': 'ci|speed|test:vit|cpu|fp32|eager|b1|32px|t1'},
    {'suite': 'ci', 'model': 'test:vit', 'registry_name': 'test:vit', 'family': 'vit', 'device': 'cpu', 'precision': 'fp32', 'runtime': 'eager', 'batch_size': 4, 'img_size': 32, 'threads': 1, 'task': 'speed', 'model_kwargs': {}, 'key': 'ci|speed|test:vit|cpu|fp32|eager|b4|32px|t1'},
    {'suite': 'ci', 'model': 'test:hybrid', 'registry_name': 'test:hybrid', 'family': 'hybrid', 'device': 'cpu', 'precision': 'fp32', 'runtime': 'eager', 'batch_size': 1, 'img_size': 32, 'threads': 1, 'task': 'speed', 'model_kwargs': {}, 'key': 'ci|speed|test:hybrid|cpu|fp32|eager|b1|32px|t1'},
    {'suite': 'ci', 'model': 'test:hybrid', 'registry_name': 'test:hybrid', 'family': 'hybrid', 'device': 'cpu', 'precision': 'fp32', 'runtime': 'eager', 'batch_size': 4, 'img_size': 32, 'threads': 1, 'task': 'speed', 'model_kwargs': {}, 'key': 'ci|speed|test:hybrid|cpu|fp32|eager|b4|32px|t1'},
]


@pytest.mark.parametrize("cell", CELLS, ids=[cell_id(c) for c in CELLS])
def test_cell(benchmark, cell):
    step, info = prepare_cell(cell)
    benchmark.group = f"{cell['suite']} b{cell['batch_size']} {cell['device']}"
    benchmark.extra_info.update(info)
    benchmark(step)
