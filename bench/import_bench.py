"""Import benchmark: client-side CPU of a full letzdesk import vs. the floor, in one run.

The sandbox serves N shipments from a separate process, so only the importing side's CPU is
counted. The floor parses the very same page bodies with ``json.loads`` and writes the same
rows with a raw ``sqlite3.executemany``: no records, no ORM, no HTTP. Goal: ratio <= 2.

    python bench/import_bench.py [--shipments 10000] [--page-size 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from letzdesk.app import build
from letzdesk.letzshop import documents
from letzdesk.settings import Settings

KEY = "bench-key-not-real"

FLOOR_SCHEMA = """
CREATE TABLE orders (id INTEGER PRIMARY KEY, shipment_id TEXT UNIQUE, shipment_number TEXT, order_id TEXT,
  order_number TEXT, state TEXT, email TEXT, total TEXT, completed_at TEXT, locale TEXT, ship TEXT, bill TEXT,
  raw TEXT);
CREATE TABLE units (id INTEGER PRIMARY KEY, shipment_id TEXT, unit_id TEXT, state TEXT, variant_id TEXT, sku TEXT,
  mpn TEXT, gtin TEXT, gtin_kind TEXT, name TEXT, brand TEXT, price TEXT);
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox(shipments: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "letzdesk",
            "sandbox",
            "--port",
            str(port),
            "--shipments",
            str(shipments),
            "--seed",
            "1",
            "--api-key",
            KEY,
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    for _ in range(300):
        try:
            httpx.post(url, json={"query": "{__typename}"}, timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("sandbox did not start")


def fetch_bodies(url: str, page_size: int) -> list[bytes]:
    bodies, after = [], None
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as client:
        while True:
            variables = {"state": "unconfirmed", "first": page_size, "after": after}
            response = client.post(url, json={"query": documents.load("shipments"), "variables": variables})
            bodies.append(response.content)
            info = response.json()["data"]["shipments"]["pageInfo"]
            if not info["hasNextPage"]:
                return bodies
            after = info["endCursor"]


def floor(bodies: list[bytes], path: Path) -> float:
    db = sqlite3.connect(path)
    db.executescript(FLOOR_SCHEMA)
    start = time.process_time()
    for body in bodies:
        nodes = json.loads(body)["data"]["shipments"]["nodes"]
        orders, units = [], []
        for s in nodes:
            o = s["order"]
            orders.append(
                (
                    s["id"],
                    s["number"],
                    o["id"],
                    o["number"],
                    s["state"],
                    o["email"],
                    str(o["total"]),
                    o["completedAt"],
                    o["locale"],
                    json.dumps(o["shipAddress"]),
                    json.dumps(o["billAddress"]),
                    json.dumps(s),
                )
            )
            for u in s["inventoryUnits"]:
                v = u["variant"] or {}
                t = v.get("tradeId") or {}
                p = v.get("product") or {}
                units.append(
                    (
                        s["id"],
                        u["id"],
                        u["state"],
                        v.get("id"),
                        v.get("sku"),
                        v.get("mpn"),
                        t.get("number"),
                        t.get("parser"),
                        json.dumps(p.get("name")),
                        (p.get("_brand") or {}).get("name"),
                        str(v.get("price")),
                    )
                )
        with db:
            db.executemany(
                "INSERT INTO orders (shipment_id, shipment_number, order_id, order_number, state, email, "
                "total, completed_at, locale, ship, bill, raw) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                orders,
            )
            db.executemany(
                "INSERT INTO units (shipment_id, unit_id, state, variant_id, sku, mpn, gtin, gtin_kind, "
                "name, brand, price) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                units,
            )
    elapsed = time.process_time() - start
    db.close()
    return elapsed


def letzdesk_import(url: str, page_size: int, data_dir: Path) -> tuple[float, float, int]:
    services = build(Settings.load(data_dir, use_keyring=False, page_size=page_size, request_deadline=120))
    vendor_id = services.vendors.add("Bench", KEY, url)
    start = time.process_time()
    first = asyncio.run(services.importer.run(vendor_id, "Bench", trigger="cli"))
    first_cpu = time.process_time() - start
    start = time.process_time()
    again = asyncio.run(services.importer.run(vendor_id, "Bench", trigger="cli"))
    again_cpu = time.process_time() - start
    services.close()
    assert first.error is None and again.unchanged == first.imported, (first, again)
    return first_cpu, again_cpu, first.imported


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shipments", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    proc, url = start_sandbox(args.shipments)
    try:
        bodies = fetch_bodies(url, args.page_size)
        floors, firsts, agains = [], [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                floors.append(floor(bodies, Path(tmp) / "floor.sqlite3"))
                first, again, count = letzdesk_import(url, args.page_size, Path(tmp) / "data")
                firsts.append(first)
                agains.append(again)
    finally:
        proc.terminate()
        proc.wait()

    base, ours, reimport = min(floors), min(firsts), min(agains)
    print(
        f"shipments {count}, pages {len(bodies)}, {sum(map(len, bodies)) / 1e6:.1f} MB of JSON, "
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, best of {args.repeat}"
    )
    print(f"floor (json.loads + sqlite3.executemany): {base:.2f} s CPU")
    print(f"letzdesk import (HTTP + parse + upsert):  {ours:.2f} s CPU  ratio {ours / base:.2f}x")
    print(f"letzdesk re-import (all unchanged):      {reimport:.2f} s CPU  ratio {reimport / base:.2f}x")


if __name__ == "__main__":
    main()
