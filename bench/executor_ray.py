"""Run a suite's cells on a Ray cluster (``archbench run SUITE --executor ray``).

Ray places the cells; archbench keeps its own measurement rules:

- **Timing-safe placement.** A cell that times or trains anything asks for one
  ``archbench_timing_slot`` (CPU cells; every node has one) or one GPU (CUDA cells; Ray
  hands out each GPU to one task at a time), so two timed cells never share a node's CPUs or
  a GPU. Cells that time nothing (params/GMACs on the meta device, ``reported`` accuracy
  rows) ask only for a CPU and run beside them.
- **Same worker as a local run.** The Ray task starts the local executor's fresh worker
  process on its node (``python -m bench.worker``), so a crash, an OOM or a hang still ends
  only that cell. Ray's ``OMP_NUM_THREADS=1`` is removed first: a cell sets its own threads
  or gets torch's default, as it would locally.
- **No silent re-timing, timeouts from the driver.** ``max_retries=0``; a cell's timeout
  counts from the moment its task reports that it started, and the driver cancels it with
  force (bench.worker sees its parent gone and ends its process group). A node or worker that dies → ``crashed``.
- **Results stay safe.** Outcomes come back to the driver, which yields them as they finish;
  the runner writes each record atomically, so stopping the driver keeps finished cells and
  ``--resume`` completes the rest, on the cluster or locally.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from bench.errors import UserError
from bench.executor import CellOutcome, Executor, LocalProcessExecutor, _now_iso
from bench.suite import Cell

INSTALL_HINT = "pip install 'archbench[ray]'"
TIMING_RESOURCE = "archbench_timing_slot"
# The node-side worker gets this much longer than the cell's timeout, so the driver's cancel
# (at the timeout) is what normally ends a hung cell; the node's own kill is the backstop.
NODE_GRACE_S = 30.0
NODE_COLUMNS = ("node_hostname", "node_id", "node_cpu_model", "node_gpu_name")


def import_ray():
    try:
        import ray
    except ImportError:
        raise UserError(f"--executor ray needs Ray, which is not installed; install it with: {INSTALL_HINT}") from None
    return ray


def is_timing_cell(cell: Cell) -> bool:
    """Whether a cell measures anything a neighbour could disturb (time, memory, training)."""
    if cell.task == "accuracy":
        return cell.options.get("source") != "reported"  # measured/scratch run models for real
    if not {"latency", "memory"} & set(cell.metrics):
        return False
    # A giant model on CPU only gets params/GMACs on the meta device (bench.worker).
    return not (cell.device == "cpu" and cell.options.get("min_gpu_mem_gb"))


def placement(cell: Cell, cluster_gpus: float) -> dict[str, Any]:
    """Ray task options for a cell: which resources it holds while it runs."""
    if not is_timing_cell(cell):
        return {"num_cpus": 1}
    if cell.device == "cuda":
        # Without any GPU in the cluster the worker records the cell `skipped`; asking for
        # one would leave it queued forever.
        return {"num_cpus": 1, "num_gpus": 1} if cluster_gpus >= 1 else {"num_cpus": 1}
    return {"num_cpus": 1, "resources": {TIMING_RESOURCE: 1}}


def _gpu_name() -> str | None:
    """The node's first GPU, without importing torch into the Ray worker."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = (
            subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=10
            )
            .stdout.strip()
            .splitlines()
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out[0].strip() if out else None


def node_columns() -> dict[str, Any]:
    import ray

    from bench.env import cpu_model

    return {
        "node_hostname": socket.gethostname(),
        "node_id": ray.get_runtime_context().get_node_id(),
        "node_cpu_model": cpu_model(),
        "node_gpu_name": _gpu_name(),
    }


def _clean_thread_env() -> None:
    # Ray starts its workers with OMP_NUM_THREADS=1 (or the task's CPU count); left in place it
    # would silently make every `threads: null` cell single-threaded.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.pop(var, None)


_LOCAL: LocalProcessExecutor | None = None  # one per Ray worker process: its template serves every task


def run_cell_on_node(cell_dict: dict[str, Any], grace_s: float):
    """Body of the Ray task (a generator): report the start, then the finished record."""
    global _LOCAL
    node = node_columns()
    yield {"event": "started", "node": node}
    _clean_thread_env()
    if _LOCAL is None:
        _LOCAL = LocalProcessExecutor()
    cell = Cell.from_dict(cell_dict)
    with tempfile.TemporaryDirectory(prefix="archbench-ray-") as tmp:
        log = Path(tmp) / "cell.log"
        t0 = time.time()
        outcome = _LOCAL.run(replace(cell, timeout_s=cell.timeout_s + grace_s), log)
        t1 = time.time()
        text = log.read_text(errors="replace") if log.is_file() else ""
    outcome.row.update(node, cell_start_unix_s=t0, cell_end_unix_s=t1)
    yield {"event": "done", "row": outcome.row, "samples_ms": outcome.samples_ms, "log": text[-500_000:]}


def probe_node() -> dict[str, Any]:
    """The node's environment (as bench.env records a machine), from a fresh process so the
    Ray worker itself never imports torch."""
    import json

    import ray

    _clean_thread_env()
    code = "import json, bench.env as e; print(json.dumps(e.capture_environment()))"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        env = json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as err:
        env = {"hostname": socket.gethostname(), "probe_error": str(err)[:300]}
    env["node_id"] = ray.get_runtime_context().get_node_id()
    return env


def local_runtime_env() -> dict[str, Any]:
    """Workers of a cluster started on this machine import the same archbench as the driver."""
    src = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    return {"env_vars": {"PYTHONPATH": path}}


@dataclass
class _Job:
    cell: Cell
    started: float | None = None  # driver's monotonic clock when the task reported its start
    started_at: str | None = None
    started_unix: float | None = None
    node: dict[str, Any] | None = None


class RayExecutor(Executor):
    def __init__(
        self, address: str | None = None, num_cpus: int | None = None, grace_s: float = NODE_GRACE_S, poll_s: float = 0.2
    ):
        self.ray = ray = import_ray()
        self.grace_s, self.poll_s = grace_s, poll_s
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self._owns_cluster = False
        if ray.is_initialized():  # the caller connected already (tests, notebooks)
            pass
        elif self.address:
            try:
                ray.init(address=self.address, log_to_driver=False)
            except Exception as err:  # ConnectionError and Ray's own errors: bad input, not a crash
                raise UserError(f"--ray-address {self.address}: cannot connect to a Ray cluster ({err})") from None
        else:
            try:
                ray.init(
                    num_cpus=num_cpus or os.cpu_count() or 1,
                    resources={TIMING_RESOURCE: 1},
                    include_dashboard=False,
                    log_to_driver=False,
                    runtime_env=local_runtime_env(),
                )
            except Exception as err:  # e.g. its raylet timed out starting on an overloaded machine
                raise UserError(
                    f"--executor ray: could not start a local Ray cluster ({str(err)[:300]}); "
                    "try again, or give --ray-address of a running cluster"
                ) from None
            self._owns_cluster = True
        totals = ray.cluster_resources()
        if totals.get(TIMING_RESOURCE, 0) < 1:
            self.close()
            raise UserError(
                f"Ray cluster at {self.address or 'this address'} has no node with the {TIMING_RESOURCE!r} resource, so "
                f"timed cells could never be placed; start each node with "
                f"`ray start ... --resources='{{\"{TIMING_RESOURCE}\": 1}}'` (docs/scale-out.md)"
            )
        self.cluster_gpus = float(totals.get("GPU", 0))
        self._cell_task = ray.remote(max_retries=0)(run_cell_on_node)
        self._nodes: list[dict[str, Any]] | None = None
        self._node_of: dict[str, str] = {}  # cell key → node that timed its first round

    def nodes(self) -> list[dict[str, Any]]:
        """Every alive node's environment and Ray resources (probed once, all nodes at once)."""
        if self._nodes is None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            ray = self.ray
            alive = [n for n in ray.nodes() if n.get("Alive")]
            probe = ray.remote(max_retries=0)(probe_node)
            refs = [
                probe.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
                for n in alive
            ]
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=600)  # a stuck node must not stall the run
            envs = [ray.get(r) if r in ready else {"probe_error": "the node did not answer within 600 s"} for r in refs]
            for n, env in zip(alive, envs):
                res = n.get("Resources", {})
                env.update(
                    node_id=n["NodeID"],
                    timing_slots=res.get(TIMING_RESOURCE, 0),
                    ray_cpus=res.get("CPU", 0),
                    ray_gpus=res.get("GPU", 0),
                )
            self._nodes = envs
        return self._nodes

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "ray",
            "address": self.address or "local cluster started for the run",
            "ray": self.ray.__version__,
            "nodes": self.nodes(),
        }

    def close(self) -> None:
        if self._owns_cluster and self.ray.is_initialized():
            self.ray.shutdown()
        self._owns_cluster = False

    def run(self, cell: Cell, log_path: Path) -> CellOutcome:
        for _, outcome in self.run_all([cell], lambda c: log_path):
            return outcome
        raise AssertionError("run_all yielded nothing for one cell")

    def run_all(
        self,
        cells: Iterable[Cell],
        log_path: Callable[[Cell], Path],
        blocker: Callable[[Cell], str | None] = lambda c: None,
        on_start: Callable[[Cell], None] = lambda c: None,
    ) -> Iterator[tuple[Cell, CellOutcome]]:
        from bench.results import write_text_atomic
        from bench.runner import sweep_group

        ray = self.ray
        # Cells of one batch sweep go one after another (a sweep stops at its first OOM);
        # different sweeps are submitted together and Ray places them.
        chains: dict[tuple, deque[Cell]] = {}
        for cell in cells:
            chains.setdefault(sweep_group(cell), deque()).append(cell)
        in_flight: dict[Any, _Job] = {}
        ready_now: list[tuple[Cell, CellOutcome]] = []

        def submit_next(group: tuple) -> None:
            chain = chains[group]
            while chain:
                cell = chain.popleft()
                reason = blocker(cell)
                if reason:
                    ready_now.append((cell, CellOutcome({"status": "skipped", "error": reason})))
                    continue
                opts = placement(cell, self.cluster_gpus)
                pinned = self._node_of.get(cell.key) if cell.options.get("round", 0) else None
                if pinned:  # later rounds of a cell run where its first round ran: one machine per row
                    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

                    opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(pinned, soft=False)
                gen = self._cell_task.options(num_returns="streaming", **opts).remote(cell.to_dict(), self.grace_s)
                in_flight[gen] = _Job(cell)
                return

        def finish(gen: Any, outcome: CellOutcome) -> tuple[Cell, CellOutcome]:
            job = in_flight.pop(gen)
            if job.started_at:
                # A cell the driver cancelled or lost: its span as the driver saw it.
                outcome.row.setdefault("started_at", job.started_at)
                outcome.row.setdefault("cell_start_unix_s", job.started_unix)
                outcome.row.setdefault("cell_end_unix_s", time.time())
            if job.node:
                self._node_of.setdefault(job.cell.key, job.node["node_id"])
                for k in NODE_COLUMNS:
                    outcome.row.setdefault(k, job.node.get(k))
            submit_next(sweep_group(job.cell))
            return job.cell, outcome

        try:
            for group in list(chains):
                submit_next(group)
            while in_flight or ready_now:
                while ready_now:
                    yield ready_now.pop(0)
                if not in_flight:
                    continue
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=self.poll_s)
                for gen in ready:
                    job = in_flight[gen]
                    try:
                        item = ray.get(next(gen))
                    except StopIteration:
                        item = None
                    except ray.exceptions.RayError as err:
                        yield finish(gen, self._lost(job, err))
                        continue
                    if item is None:
                        yield finish(gen, self._lost(job, RuntimeError("task ended without a result")))
                    elif item["event"] == "started":
                        job.started, job.started_at, job.node = time.monotonic(), _now_iso(), item["node"]
                        job.started_unix = time.time()
                        on_start(job.cell)
                    else:
                        write_text_atomic(log_path(job.cell), item.get("log") or "")  # as locally: always a log
                        yield finish(gen, CellOutcome(item["row"], item.get("samples_ms") or []))
                now = time.monotonic()
                for gen, job in list(in_flight.items()):
                    if job.started is not None and now - job.started > job.cell.timeout_s:
                        ray.cancel(gen, force=True)  # kills the Ray worker; the cell process sees it gone and exits
                        yield finish(
                            gen,
                            CellOutcome(
                                {
                                    "status": "timeout",
                                    "duration_s": round(now - job.started, 3),
                                    "error": f"cell exceeded its timeout of {job.cell.timeout_s:g} s; the driver cancelled its "
                                    f"Ray task on {(job.node or {}).get('node_hostname', '?')} with force",
                                }
                            ),
                        )
        finally:
            for gen in list(in_flight):  # Ctrl-C or an error in the driver: leave nothing running
                ray.cancel(gen, force=True)

    @staticmethod
    def _lost(job: _Job, err: BaseException) -> CellOutcome:
        where = (job.node or {}).get("node_hostname") or "its node"
        text = str(err).strip().splitlines()
        detail = text[-1][:500] if text else ""
        elapsed = round(time.monotonic() - job.started, 3) if job.started else None
        return CellOutcome(
            {
                "status": "crashed",
                "duration_s": elapsed,
                "error": f"the Ray task running the cell on {where} died ({type(err).__name__}): {detail}",
            }
        )
