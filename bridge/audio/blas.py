"""`one_blas_thread()`: the extractor's mel products run BLAS on the calling thread only.

Why: numpy's OpenBLAS splits a product of a 64-frame batch (the mel filters' top group, ~700 bins)
over every core, and its worker threads then spin between calls waiting for the next one. Offline,
with the FFT and the other stages running between the products, that spinning cost more CPU than the
whole extraction: measured on a 207 s track at 60 fps on 2 busy cores, features took 1.3-1.5 s of
process CPU with two BLAS threads against 0.19 s with one (8 fps: 0.17-0.25 s against 0.03 s).
One thread also makes the frames independent of the machine's core count: OpenBLAS partitions a
product by thread and the partition changes the last bit (2-3e-15 dB, measured), so a dataset
built on a 2-core and on an 8-core machine would not be bit-identical otherwise.

The limit is threadpoolctl's (a process-wide setting, restored when the block ends); where
threadpoolctl is missing, BLAS keeps its own threads and only the speed differs.
"""

from __future__ import annotations

import contextlib

_controller = None  # threadpoolctl's view of the loaded BLAS libraries, found once (~5 ms)


def one_blas_thread():
    """A context manager: BLAS products inside it run on one thread (~16 µs to enter and leave)."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - a dependency; guards broken installs
            _controller = False
        else:
            _controller = ThreadpoolController().select(user_api="blas")
    if not _controller:
        return contextlib.nullcontext()
    return _controller.limit(limits=1)
