"""Deployed runtimes (bench.runtimes.export/onnxruntime/openvino): ONNX export, ONNX Runtime and OpenVINO, parity with eager.

Every test builds real models (the tiny per-family test models, random weights), exports them
with the real exporters and runs them in the real runtimes; the only stand-in is hiding an
installed package to check the "not installed" message. OpenVINO tests skip where the
``openvino`` package is absent (it is an optional extra).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace

import pytest
import torch
from torch import nn

from bench import registry
from bench.runtimes import Unsupported, backend_for, prepare
from bench.runtimes.export import ONNX_OPSET, ExportError, export_onnx, resolve_threads
from bench.suite import Cell
from tests.conftest import run_cli, write_suite

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

HAVE_OPENVINO = importlib.util.find_spec("openvino") is not None
RUNTIMES = ["onnxruntime"] + (["openvino"] if HAVE_OPENVINO else [])
FAMILIES = ["test:cnn", "test:mobile", "test:vit", "test:hybrid"]
BATCH = 4  # top-1 agreement is checked over these rows


def _cell(name: str, runtime: str, threads: int | None = 1, **kw) -> Cell:
    spec = registry.get_spec(name)
    base = dict(
        suite="t",
        model=name,
        registry_name=name,
        family=spec.family,
        device="cpu",
        precision="fp32",
        runtime=runtime,
        batch_size=BATCH,
        img_size=spec.default_img_size,
        threads=threads,
    )
    base.update(kw)
    return Cell(**base)


def _model_and_input(name: str, batch: int = BATCH) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = registry.create_model(name)
    size = registry.get_spec(name).default_img_size
    x = torch.randn(batch, 3, size, size)
    with torch.inference_mode():
        ref = model(x).clone()
    return model, x, ref


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, tuple]:
    """Each tiny model exported once (default exporter), shared by the per-runtime parity tests."""
    out = {}
    for name in FAMILIES:
        model, x, ref = _model_and_input(name)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        res = export_onnx(model, x, tmp_path_factory.mktemp(name.replace(":", "_")))
        out[name] = (model, x, ref, res, before)
    return out


@pytest.mark.parametrize("name", FAMILIES)
def test_export_records_opset_exporter_size_and_leaves_weights_alone(exported, name):
    model, _, _, res, before = exported[name]
    assert res.path.is_file() and res.opset == ONNX_OPSET
    assert res.exporter == "dynamo" and res.note is None  # the default exporter handles every family
    import onnx

    proto = onnx.load(str(res.path))
    assert {o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")} == {ONNX_OPSET}
    # static shapes: the graph's input is exactly the cell's batch and image size
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [BATCH, 3, 32, 32]
    # the file holds the weights: at least their fp32 size, not vastly more
    weight_mb = sum(p.numel() * 4 for p in model.state_dict().values() if p.is_floating_point()) / 2**20
    assert weight_mb * 0.9 <= res.file_mb <= weight_mb + 1.0
    assert res.file_mb == pytest.approx(res.path.stat().st_size / 2**20)
    assert res.export_s > 0
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", FAMILIES)
def test_runtime_output_matches_eager(exported, name, runtime):
    _, x, ref, res, _ = exported[name]
    rt = backend_for(runtime)
    step, info = rt.load(res.path, x, threads=1)
    out = step()
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == ref.shape
    err = float((out - ref).abs().max())
    assert err <= 1e-4 * max(1.0, float(ref.abs().max())), f"{name} on {runtime}: max abs err {err}"
    assert torch.equal(out.argmax(1), ref.argmax(1))
    # the step is repeatable and returns a fresh tensor each call (the worker keeps the first)
    first = out.clone()
    again = step()
    assert torch.allclose(again, first, atol=1e-6) and torch.equal(out, first)
    assert info["runtime_threads"] == 1 and info["runtime_load_s"] >= 0


def test_prepare_deployed_onnxruntime_row_columns(tmp_path, monkeypatch):
    import tempfile

    import onnxruntime as ort

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the export folder is made
    model, x, ref = _model_and_input("test:hybrid")
    step, info = prepare(model, x, _cell("test:hybrid", "onnxruntime", threads=1))
    assert info["onnx_opset"] == ONNX_OPSET and info["onnx_exporter"] == "dynamo"
    assert info["export_s"] > 0 and info["onnx_file_mb"] > 0
    assert info["execution_provider"] == "CPUExecutionProvider"
    assert info["runtime_version"] == ort.__version__
    assert info["graph_opt_level"] == "ORT_ENABLE_ALL"
    # the session really runs with the cell's threads and full graph optimisation
    so = step.session.get_session_options()
    assert so.intra_op_num_threads == 1 and so.inter_op_num_threads == 1
    assert so.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert torch.allclose(step(), ref, atol=1e-5)
    # the temporary export folder is gone once the session holds the model, which still runs
    assert list(tmp_path.iterdir()) == []
    assert torch.allclose(step(), ref, atol=1e-5)


def test_threads_unset_means_what_eager_uses():
    assert resolve_threads(None) == torch.get_num_threads()
    assert resolve_threads(3) == 3


@pytest.mark.skipif(not HAVE_OPENVINO, reason="openvino not installed (optional extra archbench[openvino])")
def test_prepare_deployed_openvino_runs_fp32_with_cell_threads():
    import openvino as ov

    model, x, ref = _model_and_input("test:mobile")
    step, info = prepare(model, x, _cell("test:mobile", "openvino", threads=1))
    assert info["execution_provider"] == "openvino:CPU" and info["onnx_opset"] == ONNX_OPSET
    assert ov.__version__.startswith(info["runtime_version"])
    assert int(step.compiled.get_property("INFERENCE_NUM_THREADS")) == 1
    assert step.compiled.get_property("INFERENCE_PRECISION_HINT") == ov.Type.f32
    assert torch.allclose(step(), ref, atol=1e-5)


def test_torchscript_exporter_path_matches_eager(tmp_path):
    model, x, ref = _model_and_input("test:vit")
    res = export_onnx(model, x, tmp_path, exporters=("torchscript",))
    assert res.exporter == "torchscript" and res.opset == ONNX_OPSET
    step, _ = backend_for("onnxruntime").load(res.path, x, threads=1)
    assert torch.allclose(step(), ref, atol=1e-5)


class _DataDependent(nn.Module):
    """A Python branch on a computed value: torch.export refuses it, the TorchScript tracer bakes it in."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 5)

    def forward(self, x):
        y = self.fc(x.mean(dim=(2, 3)))
        return y * 2 if float(y.sum()) > 0 else y * 3


def test_fallback_exporter_is_used_and_the_reason_kept(tmp_path):
    torch.manual_seed(0)
    model, x = _DataDependent().eval(), torch.randn(2, 3, 8, 8)
    res = export_onnx(model, x, tmp_path)
    assert res.exporter == "torchscript"
    assert res.note and res.note.startswith("dynamo exporter:") and "data-dependent" in res.note
    assert "\x1b[" not in res.note  # colour codes from the exporter are stripped
    assert res.as_row()["onnx_export_note"] == res.note


@torch.library.custom_op("archbench_test::opaque_scale", mutates_args=())
def _opaque_scale(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@_opaque_scale.register_fake
def _(x):
    return torch.empty_like(x)


class _Unexportable(nn.Module):
    """Uses a custom operator with no ONNX translation: no exporter can handle it."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 5)

    def forward(self, x):
        return _opaque_scale(self.fc(x.mean(dim=(2, 3))))


def test_unexportable_model_raises_a_clear_error_not_unsupported(tmp_path):
    x = torch.randn(2, 3, 8, 8)
    cell = replace(_cell("test:cnn", "onnxruntime"), batch_size=2, img_size=8)
    with pytest.raises(ExportError) as info:
        prepare(_Unexportable().eval(), x, cell)
    msg = str(info.value)
    assert msg.startswith(f"ONNX export failed (opset {ONNX_OPSET})")
    assert "dynamo exporter:" in msg and "torchscript exporter:" in msg and "opaque_scale" in msg
    assert not isinstance(info.value, Unsupported)  # a fault of the model: recorded as failed


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_runtime_not_installed_names_the_extra(monkeypatch, runtime):
    monkeypatch.setitem(sys.modules, runtime, None)  # makes `import <runtime>` raise ImportError
    extra = "onnx" if runtime == "onnxruntime" else "openvino"
    with pytest.raises(Unsupported, match=rf"{runtime} is not installed: pip install 'archbench\[{extra}\]'"):
        prepare(nn.Identity(), torch.randn(1, 3, 8, 8), _cell("test:cnn", runtime))


@pytest.mark.parametrize(
    "device,precision,why", [("cuda", "fp32", "CPU execution provider only"), ("cpu", "bf16", "fp32 graph only")]
)
def test_unsupported_device_or_precision_is_skipped_before_export(device, precision, why):
    cell = _cell("test:cnn", "onnxruntime", device=device, precision=precision)
    with pytest.raises(Unsupported, match=why):
        prepare(nn.Identity(), torch.randn(1, 3, 8, 8), cell)


SUITE = """
name: deploy-cli
models:
  - test:cnn
  - {name: "fault:model", alias: raises, kwargs: {mode: raise}}
runtimes: [onnxruntime]
batch_sizes: [2]
img_sizes: [32]
threads: [1]
metrics: [latency]
timing: {warmup_min_iters: 2, warmup_max_s: 0.2, min_samples: 5, max_samples: 20, max_time_s: 0.3}
timeout_s: 240
"""


def test_cli_run_records_runtime_columns_and_export_failures(tmp_path):
    from bench import load_results

    suite = write_suite(tmp_path, SUITE)
    res = run_cli(
        "run",
        str(suite),
        "--results-dir",
        str(tmp_path / "results"),
        "--reports-dir",
        str(tmp_path / "reports"),
        "-q",
        timeout=600,
    )
    run_dir = next((tmp_path / "results").iterdir())
    df = load_results(run_dir).set_index("model")
    assert set(df.index) == {"test:cnn", "raises"}, res.stdout + res.stderr
    ok = df.loc["test:cnn"]
    if ok["status"] == "skipped" and "not available in this build" in str(ok["error"]):
        pytest.skip("bench.runtimes has no deployed backends yet")
    assert ok["status"] == "ok", ok["error"]
    assert ok["runtime"] == "onnxruntime" and int(ok["onnx_opset"]) == ONNX_OPSET
    assert ok["execution_provider"] == "CPUExecutionProvider" and int(ok["runtime_threads"]) == 1
    assert ok["export_s"] > 0 and ok["onnx_file_mb"] > 0 and ok["latency_ms_p50"] > 0
    if "parity_max_abs_err" in df.columns:  # the worker's parity check against fp32 eager
        assert ok["parity_max_abs_err"] < 1e-4 and ok["parity_top1_agree"] == 1.0
    bad = df.loc["raises"]
    assert bad["status"] == "failed" and "ONNX export failed" in bad["error"]
    assert "deliberate failure inside forward()" in bad["error"]
