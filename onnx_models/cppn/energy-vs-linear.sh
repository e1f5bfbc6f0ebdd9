#!/bin/sh
# Issue 13 part 3: the diffusion-visualiser study's comparison (its Table 3) on our own renders.
# The same CPPN (random-seed0.onnx) and the same 2 s keyframes, driven by the energy vector
# (`vjbridge render --z energy`) vs linearly (`--z linear`), 75 s excerpts of freely licensed
# Debian game music, scored with `vjbridge avs`; writes onnx_models/cppn/energy-vs-linear.md.
# Resumable: a finished AVS report is kept, an interrupted render resumes (OUT.parts/).
# Run from the repository root; needs apt-get download, dpkg-deb, ffmpeg; ~1 min per track.
set -e
VJ="${VJ:-vjbridge}"
PY="${PY:-python3}"
MUSIC="${MUSIC:-$HOME/.cache/vjbridge/music}"
WORK="${WORK:-$HOME/.cache/vjbridge/energy-vs-linear}"
MODEL=onnx_models/cppn/random-seed0.onnx
mkdir -p "$MUSIC" "$WORK"

# genre label | package | file inside the package | excerpt start (s)
TRACKS="classical|wesnoth-1.16-music|usr/share/games/wesnoth/1.16/data/core/music/elvish-theme.ogg|30
classical|wesnoth-1.16-music|usr/share/games/wesnoth/1.16/data/core/music/knalgan_theme.ogg|30
electronic|nexuiz-music|pk3/sound/cdtracks/brainsukker.ogg|30
electronic|nexuiz-music|pk3/sound/cdtracks/neuronal-diving.ogg|30
rock*|asc-music|usr/share/games/asc/music/machine_wars.mp3|30
rock*|asc-music|usr/share/games/asc/music/time_to_strike.mp3|30
jazz*|planetblupi-music-ogg|usr/share/planetblupi/music/music000.ogg|30
jazz*|planetblupi-music-ogg|usr/share/planetblupi/music/music003.ogg|30
country*|hyperrogue-music|usr/share/hyperrogue/music/hr3-graveyard.ogg|30
country*|hyperrogue-music|usr/share/hyperrogue/music/hr3-rlyeh.ogg|30"

echo "$TRACKS" | while IFS='|' read -r genre pkg file start; do
    if [ ! -d "$MUSIC/$pkg" ]; then
        deb=$(ls "$MUSIC"/${pkg}_*.deb 2>/dev/null | head -n 1)
        if [ -z "$deb" ]; then (cd "$MUSIC" && apt-get download "$pkg"); deb=$(ls "$MUSIC"/${pkg}_*.deb | head -n 1); fi
        dpkg-deb -x "$deb" "$MUSIC/$pkg"
    fi
    if [ "$pkg" = nexuiz-music ] && [ ! -d "$MUSIC/$pkg/pk3" ]; then  # the tracks are in a zip
        (cd "$MUSIC/$pkg" && unzip -q -o usr/share/games/nexuiz/data/music.pk3 -d pk3)
    fi
    name=$(basename "$file"); name="${name%.*}"
    clip="$WORK/$name.wav"
    [ -f "$clip" ] || ffmpeg -nostdin -v error -y -ss "$start" -t 75 -i "$MUSIC/$pkg/$file" -ar 44100 -ac 2 "$clip"
    for z in energy linear; do
        rep="$WORK/$name-$z.json"
        [ -f "$rep" ] && continue
        nice -n 10 $VJ render "$clip" --out "$WORK/$name-$z.mp4" --model "$MODEL" --size 128 \
            --z "$z" --no-progress </dev/null
        nice -n 10 $VJ avs "$WORK/$name-$z.mp4" --out "$rep.tmp.json" >/dev/null
        mv "$rep.tmp.json" "$rep"
    done
    [ -f "$WORK/$name-curves.csv" ] || $VJ energy "$clip" --out "$WORK/$name-curves.csv" >/dev/null
    dpkg-deb -f "$(ls "$MUSIC"/${pkg}_*.deb | head -n 1)" Version > "$WORK/$name.pkg"
    echo "$genre" > "$WORK/$name.genre"
done

"$PY" - "$WORK" onnx_models/cppn/energy-vs-linear.md <<'PYEOF'
import json, os, sys
import numpy as np
work, out = sys.argv[1:]
paper = {"classical": (0.744, 0.429), "electronic": (0.738, 0.501), "country": (0.631, 0.510),
         "rock": (0.645, 0.373), "jazz": (0.748, 0.311)}
rows, per = [], {}
for name in sorted(f[:-6] for f in os.listdir(work) if f.endswith(".genre")):
    genre = open(os.path.join(work, name + ".genre")).read().strip()
    pkg = open(os.path.join(work, name + ".pkg")).read().strip()
    energy = np.loadtxt(os.path.join(work, name + "-curves.csv"), delimiter=",", skiprows=1)[:, 1]
    cv = energy.std() / energy.mean()
    r = {z: json.load(open(os.path.join(work, f"{name}-{z}.json"))) for z in ("energy", "linear")}
    per.setdefault(genre, []).append(r)
    rows.append((genre, f"| {genre} | {name} ({pkg}) | {r['energy']['avs']:.3f} | "
                f"{r['linear']['avs']:.3f} | {r['energy']['synchrony']:.3f} / "
                f"{r['linear']['synchrony']:.3f} | {r['energy']['onsets']} | "
                f"{r['energy']['transitions']} / {r['linear']['transitions']} | {cv:.2f} |"))
order = ["classical", "electronic", "country*", "rock*", "jazz*"]
rows = [line for g, line in sorted(rows, key=lambda x: order.index(x[0]))]
table = ["| genre | ours: energy | ours: linear | ours: energy - linear | paper: energy | "
         "paper: linear |", "|---|---|---|---|---|---|"]
wins = 0
for g in order:
    rs = per.get(g, [])
    if not rs:
        continue
    e = sum(r["energy"]["avs"] for r in rs) / len(rs)
    l = sum(r["linear"]["avs"] for r in rs) / len(rs)
    wins += e > l
    pe, pl = paper[g.rstrip("*")]
    table.append(f"| {g} ({len(rs)} tracks) | {e:.3f} | {l:.3f} | {e - l:+.3f} | {pe:.3f} | {pl:.3f} |")
with open(out + ".table", "w") as f:
    f.write("\n".join(table) + "\n\nPer track (synchrony before the penalties, energy / linear; "
            "audio onsets; visual transitions, energy / linear; the energy's coefficient of "
            "variation over the excerpt, from `vjbridge energy`: 0 would make the two schedules "
            "identical):\n\n| genre | excerpt (package version) | AVS energy | AVS linear | "
            "synchrony | onsets | transitions | energy cv |\n|---|---|---|---|---|---|---|---|\n"
            + "\n".join(rows) + f"\n\nEnergy above linear in {wins} of {len(table) - 2} genres.\n")
text = open(out).read() if os.path.exists(out) else ""
a, b = "<!-- table -->", "<!-- /table -->"
if a in text and b in text:
    text = text[:text.index(a) + len(a)] + "\n" + open(out + ".table").read() + text[text.index(b):]
    open(out, "w").write(text)
    os.remove(out + ".table")
print(open(out).read() if a in text else open(out + ".table").read())
PYEOF
