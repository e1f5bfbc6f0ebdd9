#!/bin/sh
# Rebuild the held-out evaluation of the shipped models: music and presets the training never used.
#
#   sh onnx_models/holdout/rebuild.sh      (resumable; ~15 min on 2 busy cores)
#
# Big files go to $WORK/holdout (default ./data, git-ignored); the lists, the corpus manifest with
# every hash, and the report land in onnx_models/holdout/.
set -e
cd "$(dirname "$0")/../.."
VJB=${VJB:-.venv/bin/vjbridge}
WORK=${WORK:-data}
export OMP_NUM_THREADS=1
OUT="$WORK/holdout"
HERE=onnx_models/holdout
SCREEN_TRACKS=hyperrogue/hr3-crossroads,hyperrogue/hr-savino-palace
# 1. the held-out music list (hyperrogue-music 12.0q-1, CC-BY-SA-3.0; 14 of 17 files decode)
$VJB corpus --out "$OUT/screen" --write-track-list --package hyperrogue-music \
  --music "$HERE/tracks.json"
# 2. new presets: seed 1, none of the 300 presets the training screening looked at (by path or
#    content hash), screened on two held-out tracks that are then not rendered
$VJB corpus --screen 80 --seed 1 --keep 24 --jobs 1 --music "$HERE/tracks.json" \
  --screen-tracks "$SCREEN_TRACKS" --exclude bridge/training/corpus/lists/presets.json \
  --out "$OUT/screen"
cp "$OUT/screen/presets.json" "$HERE/presets.json"
# 3. render the other 12 tracks x 2 presets, the middle 75 s (the whole track if shorter)
$VJB corpus --out "$OUT/corpus" --music "$HERE/tracks.json" --presets "$HERE/presets.json" \
  --skip-tracks "$SCREEN_TRACKS" --presets-per-track 2 --seconds 75 --seed 1 --jobs 1
cp "$OUT/corpus/manifest.json" "$HERE/corpus-manifest.json"
# 4. features + targets at the shipped models' rates (22050 / 2944 = 7.4898 fps; the light model
#    22050 / 1472 = 14.9796 fps)
$VJB dataset "$OUT/corpus/manifest.json" --fps 7.4898,14.9796 --out "$OUT/data" --jobs 1 \
  --no-progress
# 5. the shipped models over every held-out video, through the live runner (the light model also
#    as a colour, beside the constant colour of its training mean)
$VJB evaluate onnx_models/motion-weight.onnx onnx_models/paper-ridge.onnx \
  onnx_models/light-rgb.onnx "$OUT/data" \
  --out "$HERE" --title "Shipped models on held-out music and presets" \
  --commands "$HERE/rebuild.sh"
