#!/usr/bin/env bash
# The GPU inference session (benchmarks/device/gpu_inference.py), run on the device in the
# calls `python -m benchmarks.device.gpu_plan calls` prints, back to back (a warm machine
# keeps /tmp for 30 s after a call):
#   run_gpu_session.sh stash PART   keep one carried payload part under /tmp/gpu-payload
#   run_gpu_session.sh inference    join + check the parts, install onnxruntime-gpu under /tmp,
#                                   run benchmarks.device.gpu_inference (results in $OUT)
#   run_gpu_session.sh train        `senticlf train` defaults on the reference subset, timed
#                                   as the CLI runs it: the MiniLM stand-in, the DistilBERT shape
set -euo pipefail
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PY=${PYTHON:-python3}
STASH=/tmp/gpu-payload
SITE=/tmp/ort-gpu          # onnxruntime-gpu, first on PYTHONPATH: it shadows the CPU onnxruntime
P=$STASH/payload/payload   # the joined tar unpacks to payload/
OUT=${OUT:-/tmp/out}
mkdir -p "$STASH" "$OUT"
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/log.txt"; }

case "${1:?stash PART | inference | train}" in
stash)
  cp "${2:?part path}" "$STASH/"
  [ -f .device/gpu-parts/SHA256 ] && cp .device/gpu-parts/SHA256 "$STASH/"
  log "stashed $(basename "$2"); have: $(ls "$STASH" | tr '\n' ' ')"
  ;;
inference)
  cd_repo=$PWD
  (cd "$STASH" && cat part-* >payload.tar && sha256sum -c SHA256) | tee -a "$OUT/log.txt"
  mkdir -p "$STASH/payload" && tar -C "$STASH/payload" -xf "$STASH/payload.tar" && rm "$STASH/payload.tar"
  log "installing $(ls "$P"/*.whl)"
  # a wheel is a zip: without pip, unpacking it is the same install for a --target folder
  $PY -m pip install --quiet --no-deps --target "$SITE" "$P"/onnxruntime_gpu-*.whl 2>&1 | tail -3 \
    || $PY -m zipfile -e "$P"/onnxruntime_gpu-*.whl "$SITE"
  export PYTHONPATH=$SITE:$cd_repo
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$OUT/log.txt" || true
  $PY -c "import torch, onnxruntime as o; print(o.__file__, o.__version__, o.get_available_providers())" \
    | tee -a "$OUT/log.txt"
  log "gpu_inference"
  $PY -m benchmarks.device.gpu_inference --payload "$P" --out "$OUT" ${GPU_INFERENCE_ARGS:-} \
    2>&1 | tee -a "$OUT/log.txt" | tail -40
  log "inference done"
  ;;
train)
  export PYTHONPATH=$PWD
  D=$P/data
  $PY - "$P" <<'EOF'
import shutil, sys
from pathlib import Path
import torch
from transformers import DistilBertConfig, DistilBertForSequenceClassification
payload = Path(sys.argv[1]); shape = payload / "distilbert-shape-torch"
torch.manual_seed(0)
DistilBertForSequenceClassification(DistilBertConfig(num_labels=2)).save_pretrained(shape)
for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
    shutil.copy(payload / "minilm" / name, shape / name)
EOF
  for base in minilm distilbert-shape-torch; do
    log "senticlf train (defaults) on the reference subset, base $base"
    start=$(date +%s.%N)
    $PY -m senticlf.cli train --data "$D/ref_train.csv.gz" --eval-data "$D/ref_val.csv.gz" \
      --base-model "$P/$base" --output "/tmp/runs/$base" --overwrite >"$OUT/train-$base.txt" 2>&1 \
      || log "train $base failed"
    end=$(date +%s.%N)
    python3 -c "print(f'train wall seconds ($base): {$end - $start:.1f}')" | tee -a "$OUT/log.txt"
    tail -5 "$OUT/train-$base.txt" | tee -a "$OUT/log.txt"
    cp "/tmp/runs/$base/metrics.json" "$OUT/train-$base-metrics.json" 2>/dev/null || true
  done
  log "train done"
  ;;
*) echo "unknown step $1" >&2; exit 2 ;;
esac
