#!/usr/bin/env bash
# The GPU run behind benchmarks/results/full-run*.json: the pretrained stand-in encoder
# fine-tuned on all 25,000 IMDb training reviews with the recipe the sweep picked, then packed
# (fp16) so that the 25,000 test reviews are scored here by the INT8 predictor on a CPU.
#   OUT=/tmp/out bash benchmarks/device/device_full_run.sh
set -eu
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT=${OUT:?set OUT to a results folder}
D=${DEVICE_DATA:-.device}
PY=${PYTHON:-python3}
$PY -m senticlf.cli train --data "$D/data/train_all.csv.gz" --eval-data "$D/data/ref_val.csv.gz" --full \
  --base-model "$D/minilm" --lr 5e-5 --warmup-ratio 0.1 --truncation head+tail --epochs "${EPOCHS:-2}" \
  --max-length "${MAX_LENGTH:-512}" --output runs/full --overwrite 2>&1 | tail -25 | tee "$OUT/full-run-log.txt"
$PY -m benchmarks.device.pack_run runs/full "$OUT/full-run.tar.part-"
ls -la "$OUT"
