"""Shared test configuration: where test data lives, and thread limits for a shared 2-core box."""

import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

DATA = Path(__file__).parent / "data"
MUSIC = DATA / "music"
