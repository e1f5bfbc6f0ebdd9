"""Genre -> style: 23 music genres and the visual style description each one sends to a diffusion
visualiser (StreamDiffusionTD and similar) as ``/vjbridge/genre`` and ``/vjbridge/style``.

Why a fixed dictionary: the diffusion-visualiser study this project follows (Pina & Li, "Combining
Genre Classification and Harmonic-Percussive Features with Diffusion Models for Music-Video
Generation", 2024) classifies a track into one of 23 genres and retrieves an artistic style
description for the prompt. Its list of 23 genres was not found in any source available to this
project (the paper's abstract pages and its repository's notebooks do not expose it in readable
form), so these are 23 common genres, including the five of its Table 3 (classical, electronic,
country, rock, jazz), and the descriptions are written for this project: short, comma-separated
visual phrases a text-to-image prompt takes as they are (subject matter, palette, texture,
motion), no artist names.

Automatic genre detection is not offered: the only genre model found shipping inside a PyPI
package, ``musicnn`` (2019, pretrained taggers whose tags include genres), runs on TensorFlow,
which the live daemon does not carry; the genre is chosen by hand (``vjbridge run --genre NAME``,
a mapping's ``genre:`` key, the run config's ``genre:``). Standard library only: the mapping
validator imports it.
"""

from __future__ import annotations

import difflib
import re

#: genre -> style description (the prompt text), in alphabetical order.
STYLES: dict[str, str] = {
    "ambient": "vast misty landscape at dawn, soft gradients of teal and lavender, slow drifting "
               "fog, weightless floating forms, minimal and calm",
    "blues": "smoky late-night bar in deep indigo and amber, worn wood and brass, rain on a "
             "window, soft film grain, melancholic glow",
    "classical": "grand baroque hall with marble columns and gilded ornament, candlelight, oil "
                 "painting texture, elegant sweeping curves, golden and ivory tones",
    "country": "open prairie at golden hour, weathered barn and fences, warm dusty oranges and "
               "sky blue, painterly Americana, gentle wind in tall grass",
    "disco": "mirror-ball ballroom, glittering sequins, saturated magenta, gold and purple light "
             "beams, 1970s glamour, sparkling reflections",
    "drum-and-bass": "high-speed tunnel of light, rushing neon streaks in acid green and cyan, "
                     "fractured geometry, motion blur, dark urban night",
    "dubstep": "heavy distorted bass waves as molten metal, glitch artefacts, deep purple and "
               "toxic green, cracked ground, shaking monumental shapes",
    "electronic": "futuristic digital cosmos, glowing circuit lines and particles, electric blue "
                  "and violet neon, clean vector geometry, pulsing light",
    "folk": "hand-drawn woodland with wildflowers, woodcut and watercolour texture, earthy "
            "greens and ochre, campfire warmth, storybook calm",
    "funk": "bold retro pop-art shapes, bouncing curves, hot orange, mustard and brown, 1970s "
            "poster print, grooving silhouettes, halftone dots",
    "hip-hop": "city street at night with graffiti walls, spray-paint texture, bold gold and "
               "black, urban skyline, confident street-art energy",
    "house": "warm club lights in sunset pink and orange, soft bokeh, dancing crowd silhouettes, "
             "smooth looping shapes, euphoric glow",
    "jazz": "1920s art deco lounge, geometric gold ornament on black, saxophone curves, smoky "
            "blue spotlight, cubist collage, improvised brush strokes",
    "latin": "vibrant street festival, papel picado and tropical flowers, hot red, yellow and "
             "turquoise, swirling dancers, sunlit colour",
    "metal": "dark gothic cathedral in storm light, black iron and fire, jagged chrome and "
             "lightning, high contrast, apocalyptic grandeur",
    "pop": "glossy candy-coloured dreamscape, pastel pink and sky blue, bubbles and confetti, "
           "clean shiny surfaces, playful and bright",
    "punk": "torn xerox collage, ransom-note letters and safety pins, harsh red, black and "
            "white, scratched photocopy texture, raw chaotic energy",
    "reggae": "sunny Caribbean beach, palm leaves and soft waves, red, gold and green, relaxed "
              "hazy warmth, hand-painted sign style",
    "rnb": "velvet night interior, soft focus, deep burgundy and rose gold, silk and candlelight, "
           "sensual smooth curves",
    "rock": "roaring stage under red and white spotlights, electric guitar sparks, gritty "
            "concrete and smoke, high-energy poster style",
    "soul": "warm vintage photograph, golden brown and deep orange, soft window light, vinyl "
            "records and velvet, heartfelt glow",
    "techno": "dark industrial warehouse, strobing monochrome geometry, hard-edged repeating "
              "grids, concrete and steel, cold white light",
    "trance": "endless starfield and glowing aurora, luminous turquoise and violet, radial "
              "light rays, soaring weightless motion, spiritual euphoria",
}

#: The OSC addresses the genre and its style go to (one string each).
GENRE_ADDRESS = "/vjbridge/genre"
STYLE_ADDRESS = "/vjbridge/style"

_SPELLINGS = {"hiphop": "hip-hop", "rap": "hip-hop", "dnb": "drum-and-bass",
              "drumandbass": "drum-and-bass", "drumnbass": "drum-and-bass", "randb": "rnb",
              "rhythmandblues": "rnb", "electronica": "electronic", "edm": "electronic"}


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower().replace("&", "and"))


_BY_KEY = {_key(g): g for g in STYLES} | {k: v for k, v in _SPELLINGS.items()}


class GenreError(ValueError):
    """An unknown genre: one line naming it, the nearest genres and where the list is."""


def genre_names() -> tuple[str, ...]:
    return tuple(STYLES)


def canonical(name) -> str:
    """The genre ``name`` means (case, spaces, hyphens and common spellings ignored: ``Hip Hop``,
    ``dnb``, ``R&B``); :class:`GenreError` with a did-you-mean otherwise."""
    if isinstance(name, str) and name.strip():
        found = _BY_KEY.get(_key(name))
        if found is not None:
            return found
    raise GenreError(unknown_message(name))


def unknown_message(name) -> str:
    text = str(name)[:60]
    close = difflib.get_close_matches(_key(text), list(_BY_KEY), n=3, cutoff=0.6)
    names = list(dict.fromkeys(_BY_KEY[c] for c in close))
    hint = f" Did you mean {' or '.join(repr(n) for n in names)}?" if names else ""
    return (f"unknown genre {text!r}.{hint} The genres: {', '.join(STYLES)} "
            "(`vjbridge check --schema` lists them too).")


def style_of(name) -> str:
    """The style description of genre ``name`` (any spelling :func:`canonical` takes)."""
    return STYLES[canonical(name)]


__all__ = ["GENRE_ADDRESS", "GenreError", "STYLES", "STYLE_ADDRESS", "canonical", "genre_names",
           "style_of", "unknown_message"]
