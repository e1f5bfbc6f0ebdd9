#!/bin/sh
# Rebuild the shipped models from nothing: projectM corpus -> dataset -> study -> ONNX models + cards.
#
#   sh onnx_models/rebuild.sh          the pilot corpus the shipped files were trained on
#                                      (16 tracks x 2 presets x 45 s; ~15 min render, ~30 min study)
#   sh onnx_models/rebuild.sh full     the full corpus (89 tracks x 3 presets x 150 s; hours)
#
# Every step is resumable: rerun to continue. Big files go to $WORK (default ./data, git-ignored);
# only small outputs land in onnx_models/.
set -e
cd "$(dirname "$0")/.."
VJB=${VJB:-.venv/bin/vjbridge}
WORK=${WORK:-data}
export OMP_NUM_THREADS=1
MODE=${1:-pilot}

case "$MODE" in
  pilot)
    CORPUS="$WORK/pilot-corpus"
    $VJB corpus --out "$CORPUS" --tracks 16 --presets-per-track 2 --seconds 45 --jobs 2 \
        --presets onnx_models/pilot/presets.json ;;
  full)
    CORPUS="$WORK/corpus"
    $VJB corpus --out "$CORPUS" --presets-per-track 3 --seconds 150 --jobs 2 ;;
  *) echo "usage: $0 [pilot|full]" >&2; exit 2 ;;
esac
DATA="$WORK/$MODE-dataset"
$VJB dataset "$CORPUS/manifest.json" --fps 1,2,4,8,16,7.4898 --out "$DATA" --jobs 2
$VJB study "$DATA" --fps 8 --out onnx_models/study --jobs 2
$VJB export "$DATA" --recipe default --out onnx_models/motion-weight.onnx --card \
    --report onnx_models/study
$VJB export "$DATA" --recipe paper --out onnx_models/paper-ridge.onnx --card \
    --report onnx_models/study
