#!/usr/bin/env bash
# One prepared script for a GPU machine (issue #16): install, check the CUDA tests that could
# fail (a step that sleeps on the GPU must measure at least the sleep; NVML energy), run
# suites/gpu-smoke.yaml into results/gpu/, and print the README table. Device time is scarce,
# so everything runs in one go; $OUT (the device tool's output folder), when set, gets a copy.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || { echo "no NVIDIA GPU here" >&2; exit 2; }
make install
.venv/bin/python -m pytest -q -m cuda tests -rs || echo "CUDA tests FAILED (see above)"
.venv/bin/archbench run suites/gpu-smoke.yaml --results-dir results/gpu --no-report
run=$(ls -d results/gpu/2* | tail -1)
.venv/bin/archbench report "$run" --format md | tee "$run/README-table.md"
if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT/gpu"
    cp "$run"/{results.csv,results.parquet,run.json,samples.parquet,README-table.md} "$OUT/gpu/"
fi
