"""DMX fixture profiles and patch: which slots of which universe a fixture's attribute occupies.

Why profiles: a lighting person patches "four RGB pars at 1, 4, 7, 10" and routes "colour to the
pars", not slot numbers. A profile lists a fixture's channels in DMX order (8-bit, or 16-bit as
coarse then fine, the order fixture manuals give) with the value each holds while no route drives
it (pan and tilt of a moving head held at the centre, a strobe held open). The shipped profiles
are ``fixtures.yaml`` beside this file; a mapping adds its own per target. Both go through
:func:`parse_profile`, so a shipped profile can never hold what a user's could not.

Slots here are 0-based (0..511); mappings and messages to people use DMX addresses 1..512.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

SLOTS = 512
#: The attribute that names a fixture's red, green and blue channels together (3 values).
COLOUR = "colour"
COLOUR_CHANNELS = ("red", "green", "blue")


@dataclass(frozen=True)
class Channel:
    attribute: str
    bits: int = 8
    default: float = 0.0  # held while no route drives it, and on blackout (0..1)


@dataclass(frozen=True)
class Profile:
    name: str
    channels: tuple[Channel, ...]
    description: str = ""

    @property
    def footprint(self) -> int:
        """Slots the fixture occupies."""
        return sum(c.bits // 8 for c in self.channels)

    def offsets(self) -> dict[str, tuple[int, int]]:
        """attribute -> (offset from the start address, bits)."""
        out, at = {}, 0
        for c in self.channels:
            out.setdefault(c.attribute, (at, c.bits))
            at += c.bits // 8
        return out

    @property
    def attributes(self) -> list[str]:
        names = [c.attribute for c in self.channels]
        return names + [COLOUR] if all(n in names for n in COLOUR_CHANNELS) else names


@dataclass(frozen=True)
class Placed:
    """A fixture patched at ``address`` (1..512) of ``universe``."""

    name: str
    universe: int
    address: int
    profile: Profile

    @property
    def last(self) -> int:
        """The last DMX address it occupies."""
        return self.address + self.profile.footprint - 1

    def channels(self, attribute: str) -> list[tuple[int, int, int]] | None:
        """(universe, slot 0..511, bits) of each channel ``attribute`` names (3 for ``colour``),
        or None when the profile has no such attribute."""
        offsets = self.profile.offsets()
        names = COLOUR_CHANNELS if attribute == COLOUR else (attribute,)
        if not all(n in offsets for n in names):
            return None
        return [(self.universe, self.address - 1 + offsets[n][0], offsets[n][1]) for n in names]


def encode(frac: float, bits: int) -> bytes:
    """A 0..1 level as one slot (8-bit) or coarse + fine (16-bit); NaN and below 0 are 0."""
    if not frac > 0.0:
        frac = 0.0
    elif frac > 1.0:
        frac = 1.0
    if bits == 8:
        return bytes((int(frac * 255 + 0.5),))
    v = int(frac * 65535 + 0.5)
    return bytes((v >> 8, v & 0xFF))


def parse_profile(name: str, raw, path: str, problems: list[str]) -> Profile | None:
    """A profile from its YAML table (``channels``: names or {attribute, bits, default}); each
    problem appended as ``path...: what``."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("channels"), (list, tuple)) \
            or not raw["channels"]:
        problems.append(f"{path}.channels: a profile needs a non-empty list of channels")
        return None
    channels, bad = [], False
    for i, ch in enumerate(raw["channels"]):
        p = f"{path}.channels[{i}]"
        if isinstance(ch, str):
            ch = {"attribute": ch}
        if not isinstance(ch, Mapping) or not isinstance(ch.get("attribute"), str) \
                or not ch["attribute"].strip():
            problems.append(f"{p}: expected an attribute name or {{attribute, bits, default}}")
            bad = True
            continue
        bits = ch.get("bits", 8)
        default = ch.get("default", 0.0)
        if bits not in (8, 16) or isinstance(bits, bool):
            problems.append(f"{p}.bits: {bits!r} is not 8 or 16")
            bad = True
        if isinstance(default, bool) or not isinstance(default, (int, float)) \
                or not 0.0 <= default <= 1.0:
            problems.append(f"{p}.default: {default!r} is not a level 0..1")
            bad = True
        if not bad:
            channels.append(Channel(ch["attribute"].strip(), int(bits), float(default)))
    if bad:
        return None
    names = [c.attribute for c in channels]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        problems.append(f"{path}.channels: attribute {dup[0]!r} appears twice; name each channel "
                        "once (e.g. white2)")
        return None
    if COLOUR in names:
        problems.append(f"{path}.channels: {COLOUR!r} is reserved for red, green, blue together")
        return None
    profile = Profile(name, tuple(channels), str(raw.get("description") or ""))
    if profile.footprint > SLOTS:
        problems.append(f"{path}: {profile.footprint} slots; a universe has {SLOTS}")
        return None
    return profile


@functools.lru_cache(maxsize=1)
def shipped_profiles() -> dict[str, Profile]:
    """The profiles in ``bridge/sinks/fixtures.yaml`` (a broken one is a packaging bug: raises)."""
    import yaml

    text = resources.files("bridge.sinks").joinpath("fixtures.yaml").read_text(encoding="utf-8")
    problems: list[str] = []
    out = {name: parse_profile(name, raw, f"fixtures.yaml:{name}", problems)
           for name, raw in yaml.safe_load(text).items()}
    if problems:
        raise AssertionError("; ".join(problems))
    return out


def profiles_for(cfg: Mapping, problems: list[str] | None = None, path: str = "") -> dict:
    """The shipped profiles with a target's own ``profiles`` added (same name: the target's)."""
    out = dict(shipped_profiles())
    sink = [] if problems is None else problems
    for name, raw in (cfg.get("profiles") or {}).items():
        p = parse_profile(str(name), raw, f"{path}.profiles.{name}", sink)
        if p is not None:
            out[str(name)] = p
    return out


def suggest(word, candidates) -> str:
    best = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.5)
    return f"; did you mean {best[0]!r}?" if best else ""


def patch(cfg: Mapping, problems: list[str] | None = None, path: str = "") -> dict[str, Placed]:
    """A target's fixtures placed: name -> :class:`Placed`. With ``problems``, every unknown
    profile, overflow past slot 512 and overlap of two fixtures is appended under ``path``."""
    sink = [] if problems is None else problems
    profiles = profiles_for(cfg, sink, path)
    placed: dict[str, Placed] = {}
    for name, fx in (cfg.get("fixtures") or {}).items():
        if not isinstance(fx, Mapping):
            continue
        p = f"{path}.fixtures.{name}"
        prof = profiles.get(fx.get("profile"))
        if prof is None:
            if isinstance(fx.get("profile"), str):
                sink.append(f"{p}.profile: unknown profile {fx['profile']!r}"
                            f"{suggest(fx['profile'], profiles)} (shipped: "
                            f"{', '.join(shipped_profiles())}; or declare it under `profiles:`)")
            continue
        address, universe = fx.get("address"), fx.get("universe")
        if type(address) is not int or type(universe) is not int:
            continue  # reported by the option check
        fixture = Placed(str(name), universe, address, prof)
        if fixture.last > SLOTS:
            sink.append(f"{p}.address: {prof.name} takes {prof.footprint} slots, so at "
                        f"{address} it ends at {fixture.last}, past {SLOTS}; start it at "
                        f"{SLOTS - prof.footprint + 1} or lower, or on the next universe")
            continue
        for other in placed.values():
            if other.universe == universe and address <= other.last and other.address <= \
                    fixture.last:
                sink.append(f"{p}.address: {name} ({address}-{fixture.last}) overlaps "
                            f"{other.name} ({other.address}-{other.last}) on universe "
                            f"{universe}; next free address after {other.name}: "
                            f"{other.last + 1}")
                break
        placed[str(name)] = fixture
    return placed


def base_frames(fixtures: Mapping[str, Placed]) -> dict[int, bytearray]:
    """Each universe's 512 slots with every fixture's channels at their held (default) values."""
    frames: dict[int, bytearray] = {}
    for fx in fixtures.values():
        frame = frames.setdefault(fx.universe, bytearray(SLOTS))
        at = fx.address - 1
        for c in fx.profile.channels:
            n = c.bits // 8
            frame[at:at + n] = encode(c.default, c.bits)
            at += n
    return frames
