#!/usr/bin/env bash
# The one GPU session behind benchmarks/results/{gpu-check.json,recipes-gpu.jsonl,large-run.json}.
# Run from the repository root on a CUDA machine with torch + transformers, after
# `python -m benchmarks.prepare_device_data ...` filled .device/. Results go to $OUT.
#   OUT=/tmp/out bash benchmarks/device_session.sh
set -u
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:?set OUT to a results folder}
D=${DEVICE_DATA:-.device}
SWEEP_BUDGET_S=${SWEEP_BUDGET_S:-240}
LARGE_EPOCHS=${LARGE_EPOCHS:-3}
MAX_LENGTH=${MAX_LENGTH:-512}
PY=${PYTHON:-python3}
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/log.txt"; }

log "gpu check"
$PY -m benchmarks.gpu_check --steps 60 --out "$OUT/gpu-check.json" >>"$OUT/log.txt" 2>&1 || log "gpu check failed"

log "recipe sweep (budget ${SWEEP_BUDGET_S}s)"
$PY -m benchmarks.recipes sweep --train "$D/data/ref_train.csv.gz" --val "$D/data/ref_val.csv.gz" \
  --extra "$D/data/extra_eval.csv.gz" --base-model "$D/minilm" --out "$OUT/recipes-gpu.jsonl" \
  --budget-s "$SWEEP_BUDGET_S" --max-length "$MAX_LENGTH" ${SWEEP_ARGS:-} >>"$OUT/log.txt" 2>&1 || log "sweep failed"

FLAGS=$($PY -m benchmarks.recipes best "$OUT/recipes-gpu.jsonl" 2>>"$OUT/log.txt")
log "large run with: $FLAGS --epochs $LARGE_EPOCHS"
$PY -m senticlf.cli train --data "$D/data/large_train.csv.gz" --eval-data "$D/data/ref_val.csv.gz" --full \
  --base-model "$D/minilm" $FLAGS --epochs "$LARGE_EPOCHS" --max-length "$MAX_LENGTH" --output runs/large --overwrite >>"$OUT/log.txt" 2>&1 \
  || log "large run failed"
$PY -m benchmarks.recipes evaluate runs/large --data "$D/data/test_all.csv.gz" --out "$OUT/large-run.json" \
  >>"$OUT/log.txt" 2>&1 || log "evaluation failed"

log "packing the large run's model (fp16) for the CPU-side INT8 evaluation"
$PY - <<'PY' >>"$OUT/log.txt" 2>&1
from pathlib import Path
from safetensors.torch import load_file, save_file
model = Path("runs/large/model")
weights = load_file(str(model / "model.safetensors"))
save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in weights.items()},
          str(model / "model.safetensors"), metadata={"format": "pt"})
PY
tar -C runs -cf - large/model large/metrics.json large/config.json large/val.csv large/errors.csv \
  | split -b 15m - "$OUT/large-run.tar.part-"
log "done"
