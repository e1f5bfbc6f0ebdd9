#!/bin/sh
# The CPPN models and the fit/sensitivity trade-off (onnx_models/cppn/tradeoff.md, tradeoff.png).
# A few minutes on 2 cores; rerun overwrites. Run from the repository root.
set -e
VJ="${VJ:-vjbridge}"
$VJ cppn new --seed 0 --out onnx_models/cppn/random-seed0.onnx
$VJ cppn fit onnx_models/cppn/cover.png --seed 0 --steps 3000 \
    --out onnx_models/cppn/cover-3000.onnx --report onnx_models/cppn
$VJ cppn fit onnx_models/cppn/cover.png --seed 0 --steps 300 --out onnx_models/cppn/cover-300.onnx
