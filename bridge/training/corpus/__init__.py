"""The projectM corpus: real Milkdrop visuals rendered offline, deterministically, from real music.

Why: vjbridge learns how visuals follow music from visualizer videos; with no video site reachable,
the corpus is rendered here by projectM (libprojectM 3.1.12, Debian) from Debian's GPL-2+ game
soundtracks, each clip a video file carrying exactly the audio that drove it.

- ``render.cpp`` + :mod:`.renderer`: the compiled offline renderer (fixed clock, exact audio per frame);
- :mod:`.music`: fetching, verifying and decoding the soundtracks (``lists/tracks.json``);
- :mod:`.screen`: keeping presets whose motion follows the music (``lists/presets.json``);
- :mod:`.video`: H.264 + FLAC in Matroska, and the frame/audio alignment contract;
- :mod:`.build`: the plan, the parallel resumable build and ``DIR/manifest.json``.
"""
