"""A bounded HTTP load generator for loopback, used when `wrk` is not installed.

    python -m bench.loadgen URL [--seconds 5] [--connections 32] [--header "Name: value"]...

Keeps `--connections` requests in flight for `--seconds` and prints one JSON line: requests,
seconds, requests per second, statuses, and latency percentiles. It runs in its own process so
that it does not share an interpreter with the server it measures; being Python, it may itself be
the limit, so its figure is a lower bound on what the server can do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import aiohttp

MAX_REQUESTS = 10_000_000


async def load(url: str, seconds: float, connections: int, headers: dict[str, str]) -> dict[str, Any]:
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline and len(latencies) < MAX_REQUESTS:
                sent = time.perf_counter()
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    statuses[response.status] += 1
                latencies.append(time.perf_counter() - sent)

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "seconds": elapsed,
        "requests_per_s": count / elapsed,
        "statuses": {str(k): v for k, v in statuses.items()},
        "p50_ms": latencies[count // 2] * 1000 if count else None,
        "p99_ms": latencies[min(count - 1, count * 99 // 100)] * 1000 if count else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--header", action="append", default=[], help='"Name: value", repeatable')
    args = parser.parse_args()
    if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost"):
        parser.error("the load generator only sends to 127.0.0.1")
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    print(json.dumps(asyncio.run(load(args.url, args.seconds, args.connections, headers))))


if __name__ == "__main__":
    main()
