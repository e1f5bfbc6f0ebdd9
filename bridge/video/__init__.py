"""Offline video from audio: NeuroMV CPPN renders (:mod:`bridge.video.render`) and how their frames
follow the music (:mod:`bridge.video.follow`)."""
