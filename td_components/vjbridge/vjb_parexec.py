"""Parameter Execute DAT of vjbridge.tox: the COMP's Start / Stop / Restart / Reset pulses.

Why: a Script CHOP's ``onPulse`` only hears its own pulses, and in the .tox the parameters live on
the COMP; this DAT (OPs = the COMP, On Pulse on) forwards the COMP's pulses to the same session.
Value changes need no callback: the Script CHOP compares parameters every frame.
"""

import vjb_chop_callbacks


def onPulse(par):
    vjb_chop_callbacks.onPulse(par)


def onValueChange(par, prev):
    return
