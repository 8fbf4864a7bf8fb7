"""Queue benchmark: what the outbox costs per answer, against posting the same answers bare.

The sandbox runs in its own process. Both sides send the same N confirmInventoryUnits calls,
one at a time, over one keep-alive connection:

- baseline: httpx posts each mutation and reads the reply; nothing is stored;
- letzdesk: N answers queued (one transaction each, as the window does), then one drain: per
  task a claim committed before the send and the outcome committed after (synchronous=FULL).

Printed: wall time of each and the ratio. The difference is the price of "nothing lost, nothing
sent twice": two durable commits per answer. There is no goal yet; watch the ratio for regressions.

    python bench/queue_bench.py [--answers 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from import_bench import KEY, start_sandbox

from letzdesk.app import build
from letzdesk.letzshop import documents
from letzdesk.services.orders import orders_for
from letzdesk.settings import Settings


def prepare(url: str, answers: int) -> tuple[object, int, list[int]]:
    """A fresh data dir with the sandbox imported; returns services, vendor and order keys."""
    settings = Settings.load(tempfile.mkdtemp(prefix="letzdesk-queue-bench-"), use_keyring=False)
    services = build(settings)
    vendor = services.vendors.add("Bench", KEY, url)
    asyncio.run(services.importer.run(vendor, "Bench"))
    orders = [order.id for order in orders_for(services.db, vendor)][:answers]
    return services, vendor, orders


def baseline(url: str, unit_ids: list[list[str]]) -> float:
    query = documents.load("confirm_inventory_units")
    started = time.perf_counter()
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as client:
        for units in unit_ids:
            variables = {"input": {"inventoryUnits": [{"inventoryUnitId": u, "isAvailable": True} for u in units]}}
            reply = client.post(url, json={"query": query, "variables": variables})
            reply.raise_for_status()
            assert not reply.json()["data"]["confirmInventoryUnits"]["errors"]
    return time.perf_counter() - started


def letzdesk_run(services: object, vendor: int, orders: list[int]) -> tuple[float, float]:
    started = time.perf_counter()
    for order in orders:
        services.answers.confirm(vendor, order)  # type: ignore[attr-defined]
    queued = time.perf_counter()
    report = asyncio.run(services.worker.drain([vendor]))  # type: ignore[attr-defined]
    assert report.done == len(orders) and report.failed == 0, report
    return queued - started, time.perf_counter() - queued


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    best_base = best_queue = best_drain = float("inf")
    for _ in range(args.repeat):
        # A fresh sandbox each round: an answered unit cannot be confirmed for the first time again.
        proc, url = start_sandbox(args.answers)
        try:
            services, vendor, orders = prepare(url, args.answers)
            units = [[u.unit_id for u in order.units] for order in orders_for(services.db, vendor)]  # type: ignore[attr-defined]
            services.close()  # type: ignore[attr-defined]
        finally:
            proc.terminate()
            proc.wait()
        proc, url = start_sandbox(args.answers)
        try:
            best_base = min(best_base, baseline(url, units))
        finally:
            proc.terminate()
            proc.wait()
        proc, url = start_sandbox(args.answers)
        try:
            services, vendor, orders = prepare(url, args.answers)
            queued, drained = letzdesk_run(services, vendor, orders)
            services.close()  # type: ignore[attr-defined]
            best_queue, best_drain = min(best_queue, queued), min(best_drain, drained)
        finally:
            proc.terminate()
            proc.wait()

    n = args.answers
    print(f"{n} answers, best of {args.repeat}")
    print(f"  baseline (bare httpx posts):   {best_base:6.2f} s  {best_base / n * 1000:6.1f} ms/answer")
    print(f"  letzdesk queueing:             {best_queue:6.2f} s  {best_queue / n * 1000:6.1f} ms/answer")
    print(f"  letzdesk drain:                {best_drain:6.2f} s  {best_drain / n * 1000:6.1f} ms/answer")
    print(f"  drain / baseline:              {best_drain / best_base:6.2f}x")
    print(f"  (queue + drain) / baseline:    {(best_queue + best_drain) / best_base:6.2f}x")


if __name__ == "__main__":
    main()
