"""The component's custom parameters: one table used to create them and to read them.

Why one table: the Script CHOP's ``onSetupParameters`` (the manual three-step setup) and the .tox
builder (parameters on the COMP) create the same parameters from ``PAGES``, and ``read`` reads them
back by the same names, so the names cannot drift apart. Reading never raises: a missing parameter
(e.g. before "Setup Parameters" was pressed) or a value of the wrong type gives the default.
"""

PAGES = (
    ("Receiver", (
        ("int", "Port", "Port (UDP)", 7000, (1, 65535), "UDP port the daemon sends to"),
        ("str", "Listen", "Listen Address", "127.0.0.1", None,
         "0.0.0.0 to receive from other machines (the firewall will ask)"),
        ("str", "Prefix", "Address Prefix", "/vjbridge/", None, "removed from addresses to name channels"),
        ("str", "Channels", "Channels", "*", None, "space-separated names/patterns; ^name excludes"),
        ("float", "Smoothing", "Smoothing (s)", 0.0, (0.0, 2.0), "one-pole time constant, 0 = off"),
        ("str", "Smoothper", "Smoothing per Channel", "", None, "e.g. motion=0.3 mel*=0.05"),
        ("menu", "Silence", "On Silence", "hold", (("hold", "Hold Last Values"), ("zero", "Zero"))
         , "no packet for Timeout seconds"),
        ("float", "Timeout", "Silence Timeout (s)", 1.0, (0.05, 10.0), ""),
        ("toggle", "Spectrum", "Spectrum Channels", True, None, "mel0..mel63 when the mapping sends them"),
        ("pulse", "Reset", "Reset Channels", None, None, "forget channels and counters"),
    )),
    ("Daemon", (
        ("str", "Executable", "vjbridge Executable", "", None, "empty = vjbridge on PATH"),
        ("str", "Mapping", "Mapping", "", None, "mapping YAML path, 'none', or empty for the default"),
        ("str", "Device", "Audio Device", "", None, "name substring or index; empty = default input"),
        ("toggle", "Demo", "Demo Groove", False, None, "run the built-in demo instead of a device"),
        ("int", "Controlport", "Control Port", 7001, (0, 65535), "0 = no live tuning"),
        ("pulse", "Start", "Start", None, None, ""),
        ("pulse", "Stop", "Stop", None, None, ""),
        ("pulse", "Restart", "Restart", None, None, ""),
    )),
    ("Tuning", (
        ("float", "Gainlow", "Gain Low", 1.0, (0.0, 8.0), ""),
        ("float", "Gainmid", "Gain Mid", 1.0, (0.0, 8.0), ""),
        ("float", "Gainhigh", "Gain High", 1.0, (0.0, 8.0), ""),
        ("float", "Thresholdkick", "Kick Threshold (dB)", 6.0, (0.5, 40.0), ""),
        ("float", "Thresholdsnare", "Snare Threshold (dB)", 6.0, (0.5, 40.0), ""),
        ("float2", "Bandkick", "Kick Band (Hz)", (40.0, 160.0), (20.0, 11025.0), ""),
        ("float2", "Bandsnare", "Snare Band (Hz)", (1000.0, 5000.0), (20.0, 11025.0), ""),
        ("float", "Bandsmooth", "Band Smoothing (s)", 0.15, (0.01, 2.0), "release of low/mid/high"),
        ("float", "Outputrate", "Output Rate (Hz)", 0.0, (0.0, 240.0), "0 = the mapping's rate"),
        ("str", "Livemapping", "Switch Mapping File", "", None, "sent to the running daemon"),
    )),
)

TUNING_KEYS = {  # parameter -> vjb_control key
    "Gainlow": "gain_low", "Gainmid": "gain_mid", "Gainhigh": "gain_high",
    "Thresholdkick": "threshold_kick", "Thresholdsnare": "threshold_snare",
    "Bandkick": "band_kick", "Bandsnare": "band_snare", "Bandsmooth": "smoothing",
    "Outputrate": "rate", "Livemapping": "mapping",
}
PULSES = tuple(name for _, pars in PAGES for kind, name, *_ in pars if kind == "pulse")


def all_parameters():
    return [(page, kind, name, label, default, extra, help_)
            for page, pars in PAGES for kind, name, label, default, extra, help_ in pars]


def setup_parameters(owner):
    """Create the pages and parameters on ``owner`` (a COMP or a Script CHOP). Documented calls
    only: OP.appendCustomPage, Page.appendInt/appendFloat/appendStr/appendToggle/appendPulse/
    appendMenu, Par.default/val/normMin/normMax/min/max/clampMin/menuNames/menuLabels/help."""
    for page_name, pars in PAGES:
        # Pressing "Setup Parameters" again must not duplicate pages or reset the user's values:
        # an existing page is reused and existing parameters are left alone.
        page = next((p for p in getattr(owner, "customPages", []) if p.name == page_name), None)
        if page is None:
            page = owner.appendCustomPage(page_name)
        for kind, name, label, default, extra, help_ in pars:
            probe = f"{name}1" if kind == "float2" else name
            if getattr(getattr(owner, "par", None), probe, None) is not None:
                continue
            if kind == "int":
                group = page.appendInt(name, label=label)
            elif kind == "float":
                group = page.appendFloat(name, label=label)
            elif kind == "float2":
                group = page.appendFloat(name, label=label, size=2)
            elif kind == "str":
                group = page.appendStr(name, label=label)
            elif kind == "toggle":
                group = page.appendToggle(name, label=label)
            elif kind == "pulse":
                group = page.appendPulse(name, label=label)
            elif kind == "menu":
                group = page.appendMenu(name, label=label)
            else:
                raise ValueError(kind)
            pars_ = list(group)
            for i, par in enumerate(pars_):
                if kind == "menu":
                    par.menuNames = [n for n, _ in extra]
                    par.menuLabels = [lbl for _, lbl in extra]
                if default is not None:
                    value = default[i] if isinstance(default, tuple) else default
                    par.default = value
                    par.val = value
                if extra is not None and kind in ("int", "float", "float2"):
                    lo, hi = extra
                    par.normMin, par.normMax = lo, hi
                    par.min, par.max = lo, hi
                    par.clampMin = True
                if help_:
                    par.help = help_


def _value(owner, name, default):
    par = getattr(getattr(owner, "par", None), name, None)
    if par is None:
        return default
    try:
        value = par.eval()
    except Exception:  # noqa: BLE001 - a broken expression must not stop the receiver
        return default
    try:
        if isinstance(default, bool):
            return bool(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        return default


def read(owner):
    """Every parameter's current value by name (defaults where missing or unreadable)."""
    values = {}
    for _page, kind, name, _label, default, _extra, _help in all_parameters():
        if kind == "pulse":
            continue
        if kind == "float2":
            values[name] = tuple(_value(owner, f"{name}{i + 1}", d) for i, d in enumerate(default))
        else:
            values[name] = _value(owner, name, default)
    return values


def owns_parameters(op_):
    """True when ``op_`` carries the component's parameters (its ``Port`` exists)."""
    return getattr(getattr(op_, "par", None), "Port", None) is not None
