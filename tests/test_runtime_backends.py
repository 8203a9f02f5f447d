"""The runtime backends as a table, and the one build path the worker and pytest front end share.

Real tiny models (``test:cnn``) on CPU, fp32 eager: cheap enough for the fast loop; the
variants themselves are exercised end to end in test_variants.py and test_deploy.py.
"""

from __future__ import annotations

import pytest
import torch

from bench.axes import RUNTIMES
from bench.pytest_front import CELL_FIELDS, prepare_cell
from bench.runtimes import BACKENDS, Unsupported, backend_for, build_cell, load_model
from bench.suite import Cell


def _cell(**kw) -> Cell:
    base = dict(
        suite="backends-test",
        model="test:cnn",
        registry_name="test:cnn",
        family="cnn",
        device="cpu",
        precision="fp32",
        runtime="eager",
        batch_size=2,
        img_size=32,
        threads=1,
    )
    base.update(kw)
    return Cell(**base)


def test_every_runtime_of_the_suite_axis_has_one_backend_under_its_name():
    assert set(BACKENDS) == set(RUNTIMES)
    for name, backend in BACKENDS.items():
        assert backend.name == name and backend_for(name) is backend
    with pytest.raises(Unsupported, match="runtime 'tensorrt' is not available in this build of archbench"):
        backend_for("tensorrt")


def test_build_cell_gives_the_model_its_input_and_a_step_that_runs_it():
    cell = _cell()
    built = build_cell(cell)
    assert built.example.shape == (2, 3, 32, 32) and built.info == {}
    out = built.step()
    with torch.inference_mode():
        assert torch.equal(out, built.model(built.example))
    # the model is the registry's, built with seed 0: the same weights in every process
    again = load_model(cell)
    assert all(torch.equal(a, b) for a, b in zip(built.model.state_dict().values(), again.state_dict().values()))


@pytest.mark.parametrize(
    "kw,why", [({"precision": "fp16"}, "fp16 on CPU is not measured"), ({"runtime": "tensorrt"}, "not available in this build")]
)
def test_a_cell_that_cannot_run_here_is_refused_before_its_model_is_built(kw, why):
    # fault:model with an unknown mode raises ValueError when built: Unsupported proves it never was
    cell = _cell(registry_name="fault:model", model_kwargs={"mode": "no-such-mode"}, **kw)
    with pytest.raises(Unsupported, match=why):
        build_cell(cell)
    with pytest.raises(ValueError, match="mode must be one of"):
        build_cell(_cell(registry_name="fault:model", model_kwargs={"mode": "no-such-mode"}))


def test_pytest_front_times_the_same_call_the_worker_builds():
    cell = _cell()
    threads = torch.get_num_threads()
    try:
        step, info = prepare_cell({k: v for k, v in cell.to_dict().items() if k in CELL_FIELDS})
        built = build_cell(cell)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(step(), built.step())  # same weights, same input, same call
    assert info["cell_key"] == cell.key and info["threads"] == 1
    assert info["params"] == sum(p.numel() for p in built.model.parameters())


def test_pytest_front_skips_a_cell_the_machine_cannot_run():
    cell = _cell(precision="fp16")
    with pytest.raises(pytest.skip.Exception, match="fp16 on CPU"):
        prepare_cell({k: v for k, v in cell.to_dict().items() if k in CELL_FIELDS})
