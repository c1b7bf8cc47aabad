#!/usr/bin/env bash
# GPU readiness check: the CUDA-marked tests, GAN training speed at 128 px against the official StyleGAN2-ADA
# figure and the CPU, AMP against fp32 on a fixed batch; one JSON object on stdout (see benchmarks/gpu_check.py).
#   benchmarks/gpu_check.sh [--dry-run] [--families stylegan2,ddpm] [--skip-tests]
# At most 8 minutes: the whole check is stopped then (exit 124).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
exec timeout 480 "$PYTHON" benchmarks/gpu_check.py "$@"
