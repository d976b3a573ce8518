"""/etc/hosts -> name -> address (the names a config uses for its nodes)."""

from __future__ import annotations

import ipaddress

from hamodel.adopt.source import safe_name


def parse_hosts(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in text.split("\n"):
        words = raw.split("#", 1)[0].split()
        if len(words) < 2:
            continue
        try:
            ip = ipaddress.ip_address(words[0])
        except ValueError:
            continue
        if ip.is_loopback or ip.is_link_local or ip.is_multicast:
            continue
        for name in words[1:]:
            if safe_name(name):
                out.setdefault(name, str(ip))
                out.setdefault(name.split(".")[0], str(ip))
    return out
