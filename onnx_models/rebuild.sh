#!/bin/sh
# Rebuild the shipped models from nothing: projectM corpus -> dataset -> study -> ONNX models + cards.
# Several hours on 2 cores (the corpus render dominates); every step is resumable, rerun to continue.
# Big files go to $WORK (default ./data, git-ignored); only small outputs land in onnx_models/.
set -e
cd "$(dirname "$0")/.."
VJB=${VJB:-.venv/bin/vjbridge}
WORK=${WORK:-data}
export OMP_NUM_THREADS=1

$VJB corpus --out "$WORK/corpus" --presets-per-track 3 --seconds 150 --jobs 2
$VJB dataset "$WORK/corpus/manifest.json" --fps 1,2,4,8,16,7.4898 --out "$WORK/dataset" --jobs 2
$VJB study "$WORK/dataset" --fps 8 --out onnx_models/study
$VJB export "$WORK/dataset" --recipe default --out onnx_models/motion-weight.onnx --card \
    --report onnx_models/study
$VJB export "$WORK/dataset" --recipe paper --out onnx_models/paper-ridge.onnx --card \
    --report onnx_models/study
