#!/bin/sh
# Rebuild the shipped models from nothing: projectM corpus -> dataset -> study -> ONNX models + cards.
#
#   sh onnx_models/rebuild.sh          the full corpus the shipped models are trained on
#                                      (84 tracks x 3 presets x 150 s = 252 videos; ~80 min render,
#                                      ~25 min dataset, the study ~45 min, exports ~5 min)
#   sh onnx_models/rebuild.sh pilot    a small pilot (16 tracks x 2 presets x 45 s) into
#                                      onnx_models/pilot/ (~1 h): a smoke run of the whole chain
#
# Every step is resumable: rerun to continue. Big files go to $WORK (default ./data, git-ignored);
# only small outputs land in onnx_models/.
set -e
cd "$(dirname "$0")/.."
VJB=${VJB:-.venv/bin/vjbridge}
WORK=${WORK:-data}
export OMP_NUM_THREADS=1
MODE=${1:-full}

case "$MODE" in
  pilot)
    CORPUS="$WORK/pilot-corpus"
    OUT=onnx_models/pilot
    $VJB corpus --out "$CORPUS" --tracks 16 --presets-per-track 2 --seconds 45 --jobs 2 \
        --presets onnx_models/pilot/presets.json ;;
  full)
    CORPUS="$WORK/corpus"
    OUT=onnx_models
    $VJB corpus --out "$CORPUS" --presets-per-track 3 --seconds 150 --jobs 2 ;;
  *) echo "usage: $0 [full|pilot]" >&2; exit 2 ;;
esac
DATA="$WORK/$MODE-dataset"
$VJB dataset "$CORPUS/manifest.json" --fps 1,2,4,8,16,7.4898,14.9796 --out "$DATA" --jobs 2
$VJB study "$DATA" --fps 8 --out "$OUT/study" --jobs 2 --max-rows 20000
$VJB export "$DATA" --recipe default --out "$OUT/motion-weight.onnx" --card --report "$OUT/study"
$VJB export "$DATA" --recipe paper --out "$OUT/paper-ridge.onnx" --card --report "$OUT/study"
# the light model (audio -> RGB; JAX CNN at 14.9796 fps, ~25 min; resumable from light-rgb.work/)
nice -n 5 $VJB export "$DATA" --recipe light --out "$OUT/light-rgb.onnx" --card --report "$OUT/study"
