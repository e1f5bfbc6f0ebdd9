#!/bin/sh
# Re-create tests/data/music/ from Debian's soundtrack packages (GPL-2+). Needs apt-get and ffmpeg.
set -eu
out=$(cd "$(dirname "$0")/.." && pwd)/tests/data/music
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download nexuiz-music wesnoth-1.16-music warzone2100-music
for deb in *.deb; do dpkg-deb -x "$deb" x; done
unzip -q x/usr/share/games/nexuiz/data/music.pk3 'sound/cdtracks/neuronal-diving.ogg' -d nex
ffmpeg -v error -y -ss 60 -t 15 -i nex/sound/cdtracks/neuronal-diving.ogg -c:a libvorbis -q:a 3 "$out/nexuiz-neuronal-diving.ogg"
ffmpeg -v error -y -ss 45 -t 15 -i x/usr/share/games/wesnoth/1.16/data/core/music/battle.ogg -c:a libvorbis -q:a 3 "$out/wesnoth-battle.ogg"
ffmpeg -v error -y -ss 30 -t 15 -i x/usr/share/games/warzone2100/music/albums/legacy_soundtrack/track4.opus -c:a libopus -b:a 64k "$out/warzone-track4.opus"
echo "wrote $out"
