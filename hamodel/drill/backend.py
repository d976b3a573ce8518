"""Stand-in backend for a drill: one process per lab node, serving many ports.

Run inside a node namespace as a plain script (stdlib only, so it starts
fast): ``python backend.py --node ctl-1 --control SOCK --listen ADDR:PORT ...``.
Every connection gets an HTTP/1.0 200 answer naming the node and port,
whatever it sent (health checks of any path, HTTP or TCP probes alike), so
a client polling a VIP learns which backend served it. The control socket
takes ``down PORT...`` / ``up PORT...`` to kill and revive one service's
listeners without touching the others on the node.
"""

from __future__ import annotations

import argparse
import asyncio
import signal


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, node: str, port: int) -> None:
    try:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=2.0)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        body = f"hml-backend node={node} port={port}\n".encode()
        writer.write(
            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--listen", action="append", default=[], help="ADDR:PORT")
    args = ap.parse_args()
    servers: dict[int, asyncio.base_events.Server] = {}
    targets: dict[int, str] = {}
    for spec in args.listen:
        addr, port = spec.rsplit(":", 1)
        targets[int(port)] = addr.strip("[]")

    async def up(port: int) -> None:
        if port not in servers:
            servers[port] = await asyncio.start_server(
                lambda r, w, p=port: _serve(r, w, args.node, p), targets[port], port, reuse_address=True
            )

    async def down(port: int) -> None:
        srv = servers.pop(port, None)
        if srv is not None:
            srv.close()
            await srv.wait_closed()

    for port in targets:
        await up(port)

    async def control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = (await reader.readline()).decode().split()
        reply = "ok"
        try:
            if line and line[0] in ("up", "down"):
                for p in line[1:]:
                    await (up if line[0] == "up" else down)(int(p))
            elif line and line[0] == "ping":
                reply = "ok " + " ".join(str(p) for p in sorted(servers))
            else:
                reply = "error: unknown command"
        except (OSError, KeyError, ValueError) as exc:
            reply = f"error: {exc}"
        writer.write((reply + "\n").encode())
        await writer.drain()
        writer.close()

    ctl = await asyncio.start_unix_server(control, args.control)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"ready {args.node} {sorted(servers)}", flush=True)
    await stop.wait()
    ctl.close()
    for p in list(servers):
        await down(p)


if __name__ == "__main__":
    asyncio.run(main())
