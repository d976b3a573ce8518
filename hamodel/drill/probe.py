"""The drill client: polls one ADDR:PORT and prints one JSON line per request.

Run inside the client namespace as a plain script (stdlib only):
``python probe.py --target 192.168.1.220:5000 --interval 0.05 --timeout 0.3``.
Each line: ``{"t": <CLOCK_MONOTONIC at send>, "ok": bool, "node": str|null,
"ms": latency, "err": str|null}``. CLOCK_MONOTONIC is system wide on Linux,
so the drill runner can line these up with its own failure-injection times.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import sys
import time

NODE_RE = re.compile(rb"hml-backend node=(\S+) port=(\d+)")


def attempt(host: str, port: int, timeout: float) -> tuple[bool, str | None, str | None]:
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"GET /drill HTTP/1.0\r\nHost: drill\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        return False, None, type(exc).__name__ if not getattr(exc, "strerror", None) else exc.strerror
    m = NODE_RE.search(data)
    if not data.startswith(b"HTTP/1.") or b" 200 " not in data.split(b"\r\n", 1)[0] or not m:
        status = data.split(b"\r\n", 1)[0].decode("latin-1")[:60] if data else "empty reply"
        return False, None, status
    return True, m.group(1).decode(), None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True, action="append", help="ADDR:PORT; several with --once")
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--timeout", type=float, default=0.3)
    ap.add_argument("--once", action="store_true", help="one request per target, then exit")
    args = ap.parse_args()
    if args.once:
        for target in args.target:
            h, p = target.rsplit(":", 1)
            t = time.monotonic()
            ok, node, err = attempt(h.strip("[]"), int(p), args.timeout)
            sys.stdout.write(json.dumps({"t": t, "target": target, "ok": ok, "node": node, "err": err}) + "\n")
        return
    host, port = args.target[0].rsplit(":", 1)
    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while running:
        t = time.monotonic()
        ok, node, err = attempt(host.strip("[]"), int(port), args.timeout)
        ms = round((time.monotonic() - t) * 1000, 1)
        sys.stdout.write(json.dumps({"t": t, "ok": ok, "node": node, "ms": ms, "err": err}) + "\n")
        sys.stdout.flush()
        rest = args.interval - (time.monotonic() - t)
        if rest > 0 and running:
            time.sleep(rest)


if __name__ == "__main__":
    main()
