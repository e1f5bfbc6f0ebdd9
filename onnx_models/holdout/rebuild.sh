#!/bin/sh
# Rebuild the held-out evaluation of the shipped models: music and presets the training never used.
# Usage (from the repository root): sh onnx_models/holdout/rebuild.sh [DATA_DIR]   (resumable)
set -e
OUT=${1:-/work/data/holdout}
HERE=onnx_models/holdout
SCREEN_TRACKS=hyperrogue/hr3-crossroads,hyperrogue/hr-savino-palace
# 1. the held-out music list (committed; this rescans hyperrogue-music 12.0q-1, CC-BY-SA-3.0)
vjbridge corpus --out "$OUT/screen" --write-track-list --package hyperrogue-music \
  --music "$HERE/tracks.json"
# 2. new presets: seed 1, none of the training list's 300 screened presets (by path or content),
#    screened on two held-out tracks that are then not rendered (result: $HERE/presets.json)
vjbridge corpus --screen 80 --seed 1 --keep 24 --jobs 1 --music "$HERE/tracks.json" \
  --screen-tracks "$SCREEN_TRACKS" --exclude bridge/training/corpus/lists/presets.json \
  --out "$OUT/screen"
cp "$OUT/screen/presets.json" "$HERE/presets.json"
# 3. render the other 12 tracks x 2 presets, middle 75 s (whole track if shorter)
vjbridge corpus --out "$OUT/corpus" --music "$HERE/tracks.json" --presets "$HERE/presets.json" \
  --skip-tracks "$SCREEN_TRACKS" --presets-per-track 2 --seconds 75 --seed 1 --jobs 1
cp "$OUT/corpus/manifest.json" "$HERE/corpus-manifest.json"
# 4. features + targets at the shipped models' rate (22050 / 2944 = 7.4898 fps)
vjbridge dataset "$OUT/corpus/manifest.json" --fps 7.4898 --out "$OUT/data" --jobs 1 --no-progress
# 5. both shipped models over every held-out video, through the live runner
vjbridge evaluate onnx_models/motion-weight.onnx onnx_models/paper-ridge.onnx "$OUT/data" \
  --out "$HERE" --title "Shipped models on held-out music and presets" \
  --commands "$HERE/rebuild.sh"
