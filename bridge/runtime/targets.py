"""Warnings about OSC target addresses that cannot work as a user expects: said at start, not found
out from a counter weeks later.

Why: a target that the kernel will never deliver to looks fine in the mapping and on the status
line (packets are "sent", drops grow quietly). Found by probing the bridge as a gallery runs it:
a broadcast address drops every packet (vjbridge does not set ``SO_BROADCAST``), a multicast group
reaches only receivers that joined it, on one interface, with TTL 1, ``0.0.0.0`` is not a
destination, and an address with no route drops everything. Each check is an address
classification (:mod:`ipaddress`) plus one UDP ``connect()`` of a throw-away socket to the target's
already resolved address: a route lookup in the kernel, no packet on the wire, no DNS. It runs when
a target opens (the engine's snapshot publisher, at start and after a reload reopened a target).

The warnings are events (``engine.events``: log, status page, ``/health``), never errors: the show
starts, and an operator who meant it (a multicast group the receivers joined) can ignore them.
"""

from __future__ import annotations

import errno
import ipaddress
import socket


def target_warnings(sink) -> list[str]:
    """What is wrong with an OSC sink's target address (``[]`` when nothing is, or the sink is
    not an OSC sink): one line each, naming the address and what to do."""
    transport = getattr(sink, "transport", None)
    addr = getattr(transport, "addr", None)
    if getattr(sink, "kind", None) != "osc" or not addr:
        return []
    return address_warnings(str(addr[0]), int(addr[1]), getattr(sink, "protocol", "udp"),
                            host=str(getattr(sink, "host", addr[0])), family=_family(addr))


def address_warnings(address: str, port: int, protocol: str = "udp", *, host: str | None = None,
                     family: int | None = None) -> list[str]:
    """The checks on a resolved ``address`` (what :func:`target_warnings` runs)."""
    host = host or address
    shown = f"[{host}]" if ":" in host else host
    where = f"{protocol}://{shown}:{port}" + (f" ({address})" if host != address else "")
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return []
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_multicast:
        if protocol == "tcp":
            return [f"{where} is a multicast group: TCP cannot connect to it; use the "
                    "receiver's own address"]
        return [f"{where} is a multicast group: packets leave on one interface only, with a TTL "
                "of 1 (this subnet), and reach only receivers that joined the group; for one "
                "receiver, use its own address"]
    if ip.is_unspecified:
        return [f"{where} is not a destination (it means 'any address' when listening): on "
                "Linux it reaches this machine only; use 127.0.0.1 or the receiver's address"]
    if ip == ipaddress.IPv4Address("255.255.255.255"):
        return [_broadcast(where)]
    problem = _route_problem(address, port, family)
    if problem == errno.EACCES:  # the kernel knows it as a subnet's broadcast address
        return [_broadcast(where)]
    if problem in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
        return [f"{where}: this machine has no route there ({errno.errorcode[problem]}); every "
                "packet will be dropped until the network is up: check the address, the cable "
                "or Wi-Fi, and this machine's IP settings"]
    if problem == errno.EINVAL and isinstance(ip, ipaddress.IPv6Address) and ip.is_link_local:
        return [f"{where} is an IPv6 link-local address without an interface: write it with "
                "one, e.g. fe80::1%eth0"]
    if problem is not None:
        return [f"{where}: cannot send there ({errno.errorcode.get(problem, problem)})"]
    return []


def _broadcast(where: str) -> str:
    return (f"{where} is a broadcast address: vjbridge does not send broadcasts, so every packet "
            "will be dropped; use the receiver's own address (e.g. 192.168.1.20)")


def _family(addr) -> int:
    return socket.AF_INET6 if len(addr) == 4 else socket.AF_INET


def _route_problem(address: str, port: int, family: int | None) -> int | None:
    """The errno a UDP ``connect()`` to ``address`` gives (a route lookup, nothing sent), or None."""
    family = family or (socket.AF_INET6 if ":" in address else socket.AF_INET)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            if family == socket.AF_INET6:
                info = socket.getaddrinfo(address, port, family, socket.SOCK_DGRAM,
                                          flags=socket.AI_NUMERICHOST)
                sock.connect(info[0][4])
            else:
                sock.connect((address, port))
        except socket.gaierror:
            return errno.EINVAL
        except OSError as exc:
            return exc.errno
    return None
