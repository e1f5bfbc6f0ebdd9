"""Execute DAT of vjbridge.tox: cook the receiver every frame, stop the daemon when TD exits.

Why: a Script CHOP cooks only when something asks for its data; forcing a cook at each frame start
(OP.cook(force=True)) keeps packets drained and triggers counted even when nothing downstream is
being viewed. On exit the daemon this component started is stopped (TouchDesigner would otherwise
leave it running).
"""

import vjb_chop_callbacks

RECEIVER = "receiver"


def onFrameStart(frame):
    chop = parent().op(RECEIVER)  # noqa: F821 - parent() is provided by TouchDesigner
    if chop is not None:
        chop.cook(force=True)


def onExit():
    vjb_chop_callbacks.close_session(parent(), stop_daemon=True)  # noqa: F821
