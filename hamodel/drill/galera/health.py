"""The member's clustercheck-style health endpoint, run by the Galera lab inside the
member's namespace: ``python -m hamodel.drill.galera.health --health SOCKET [--bind ADDR]
[--port PORT]`` (a helper process of the lab, not a drill entry point: drills run
with ``hamodel drill``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hamodel.drill.galera.lab import serve_health


def serve(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m hamodel.drill.galera.health")
    ap.add_argument("--health", metavar="SOCKET", required=True, help="the member's mariadbd socket")
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=9200)
    a = ap.parse_args(argv)
    serve_health(Path(a.health), a.bind, a.port)


if __name__ == "__main__":
    serve()
