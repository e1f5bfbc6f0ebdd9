# vjbridge: `make run` and `make test` are all the set-up a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

# Debian packages the real-peer tests use: PortAudio for sounddevice, PulseAudio (a null sink is the
# test's audio device), JACK (MIDI), liblo (oscdump), OLA (DMX), FFmpeg/sox, and projectM + EGL for
# rendering a real visualizer corpus, systemd for `systemd-analyze verify` of the service unit (not
# run as PID 1: nothing is started), Chromium + its driver (the status page in a real browser),
# glslang (compiles the CPPN's GLSL TOP shader; EGL renders it).
DEB_TEST := libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins alsa-utils jackd2 \
            liblo-tools ola ola-python sox ffmpeg libprojectm-dev projectm-data libegl-dev \
            libgl-dev libegl-mesa0 libgl1-mesa-dri g++ pkg-config iproute2 systemd \
            chromium chromium-driver glslang-tools
DEB_RUN  := libportaudio2

.PHONY: run test bench models corpus holdout deb-run deb-test clean

run: $(BIN)/.run-installed deb-run
	$(BIN)/vjbridge run --fallback demo

test: $(BIN)/.test-installed deb-test
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q

bench: $(BIN)/.test-installed
	$(BIN)/vjbridge bench

# Long jobs: commands, not tests. Both resume where they stopped.
models: $(BIN)/.test-installed deb-test
	sh onnx_models/rebuild.sh

corpus: $(BIN)/.test-installed deb-test
	$(BIN)/vjbridge corpus --out data/corpus --presets-per-track 3 --seconds 150 --jobs 2

# The shipped models on music and presets they never saw (~15 min): onnx_models/holdout/report.md
holdout: $(BIN)/.test-installed deb-test
	sh onnx_models/holdout/rebuild.sh

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(BIN)/.run-installed: $(BIN)/python pyproject.toml
	$(PIP) install -e .
	touch $@

$(BIN)/.test-installed: $(BIN)/python pyproject.toml
	$(PIP) install -e ".[train,test]"
	touch $@ $(BIN)/.run-installed

# Installs missing Debian packages when run as root (as in CI); otherwise prints the one command to run.
deb-run:
	@PKGS="$(DEB_RUN)" sh tools/ensure-deb.sh
deb-test:
	@PKGS="$(DEB_TEST)" sh tools/ensure-deb.sh

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
