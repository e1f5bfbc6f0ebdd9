"""The parameter grid behind the AVS defaults (tests/data/avs/README.md, "How the parameters were
chosen"): 64 settings scored on the nexuiz and wesnoth clips, checked on the warzone ones. The
audio shifts here move the onset-strength curve (circularly) instead of decoding delayed audio,
and the chance distance uses 12 shifts, so figures differ slightly from the table's.

    cd /work/wt-avs && PYTHONPATH=$PWD /work/main/.venv/bin/python tests/data/avs/tune.py
"""
import glob, numpy as np, itertools, sys
import bridge.training.avs as A
clips = sorted(glob.glob("tests/data/avs/*.mkv"))
T = {"nexuiz": "nexuiz-neuronal-diving.ogg", "wesnoth": "wesnoth-battle.ogg", "warzone": "warzone-track4.opus"}
cache = {}
P0 = A.AVSParams()
def thr_std(v, d): return v.mean() + d * v.std()
def thr_mad(v, d): m = np.median(v); return m + d * 1.4826 * np.median(np.abs(v - m))
def pick(t, v, d, ref, thr):
    th = thr(v, d); mid = v[1:-1]
    pk = np.flatnonzero((mid >= v[:-2]) & (mid > v[2:]) & (mid >= th)) + 1
    ch = []
    for i in pk[np.argsort(-v[pk], kind="stable")]:
        if all(abs(t[i] - x) >= ref for x in ch): ch.append(t[i])
    return np.sort(np.array(ch))
def smooth(x, w):
    if w <= 1: return x
    return np.convolve(x, np.ones(w) / w, mode="same")
def S(on, tr, start, end, p):
    if len(on) < 2 or len(tr) < 2: return 0.0
    D = A.dtw_distance(on, tr); C, _ = A.chance_distance(on, tr, start, end, p)
    return max(0.0, 1 - D / C)
def run(od, vd, ref, w, thr, mode, p=A.AVSParams(shifts=12)):
    res = {}
    for v in clips:
        tk = v.split("--")[1][:-4]
        if v not in cache:
            cache[v] = (A.audio_onsets("tests/data/music/" + T[tk], P0), A.frame_differences(v, 64))
        (at, s), (vt, d) = cache[v]
        if mode == "rise": d = np.maximum(np.diff(d, prepend=d[0]), 0)
        d = smooth(d, w); s = smooth(s, w)
        start, end = p.skip, min(at[-1], vt[-1])
        kv = (vt >= start) & (vt <= end)
        tr = pick(vt[kv], d[kv], vd, ref, thr)
        dur = at[-1]; out = []
        for shift in (0.0, 0.5, 2.0):
            ats = at + shift; ats = np.where(ats > dur, ats - dur, ats); o = np.argsort(ats)
            a2, s2 = ats[o], s[o]; ka = (a2 >= start) & (a2 <= end)
            on = pick(a2[ka], s2[ka], od, ref, thr)
            out.append(S(on, tr, start, end, p))
        res[v.split('/')[-1][:-4]] = (tk, v.split('/')[-1].startswith("resp"), out)
    return res
rows = []
for thr, mode, w, od, vd, ref in itertools.product((thr_std, thr_mad), ("diff", "rise"), (1, 3), (1.0, 2.0), (1.0, 2.0), (0.1, 0.25)):
    r = run(od, vd, ref, w, thr, mode)
    def stats(tracks):
        R = np.array([x for tk, isr, x in r.values() if isr and tk in tracks]); U = np.array([x[0] for tk, isr, x in r.values() if not isr and tk in tracks])
        return R[:, 0].mean(), U.mean(), np.mean([a > b for a in R[:, 0] for b in U]), R[:, 1].mean(), R[:, 2].mean()
    a = stats(("nexuiz", "wesnoth")); b = stats(("warzone",))
    line = "%s %s w%d od%.0f vd%.0f ref%.2f | tune R %.3f U %.3f pairs %.2f sh %.3f %.3f | hold R %.3f U %.3f pairs %.2f sh %.3f %.3f" % (thr.__name__, mode, w, od, vd, ref, *a, *b)
    print(line, flush=True)
