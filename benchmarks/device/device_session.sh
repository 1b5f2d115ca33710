#!/usr/bin/env bash
# The GPU session behind benchmarks/results/{gpu-check.json,recipes-gpu.jsonl}: the GPU check
# and the recipe sweep. The large run is benchmarks/device/device_full_run.sh.
# Run from the repository root on a CUDA machine with torch + transformers, after
# `python -m benchmarks.device.prepare_device_data ...` filled .device/. Results go to $OUT.
#   OUT=/tmp/out bash benchmarks/device/device_session.sh
set -u
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:?set OUT to a results folder}
D=${DEVICE_DATA:-.device}
SWEEP_BUDGET_S=${SWEEP_BUDGET_S:-240}
MAX_LENGTH=${MAX_LENGTH:-512}
PY=${PYTHON:-python3}
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/log.txt"; }

log "gpu check"
$PY -m benchmarks.gpu_check --steps 60 --out "$OUT/gpu-check.json" >>"$OUT/log.txt" 2>&1 || log "gpu check failed"

log "recipe sweep (budget ${SWEEP_BUDGET_S}s)"
$PY -m benchmarks.recipes sweep --train "$D/data/ref_train.csv.gz" --val "$D/data/ref_val.csv.gz" \
  --extra "$D/data/extra_eval.csv.gz" --base-model "$D/minilm" --out "$OUT/recipes-gpu.jsonl" \
  --budget-s "$SWEEP_BUDGET_S" --max-length "$MAX_LENGTH" ${SWEEP_ARGS:-} >>"$OUT/log.txt" 2>&1 || log "sweep failed"

log "done"
