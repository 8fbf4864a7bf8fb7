"""An API key must never be readable anywhere in the data dir: not raw, not base64, not hex."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import secrets
import string
from pathlib import Path

from letzdesk.app import build, setup_logging
from letzdesk.cli import main
from letzdesk.sandbox.data import generate_shipments
from letzdesk.sandbox.server import SandboxServer
from letzdesk.services.connection import test_key, test_vendor
from letzdesk.settings import Settings


def forms(key: str) -> dict[str, bytes]:
    raw = key.encode()
    found = {
        "raw": raw,
        "hex": binascii.hexlify(raw),
        "HEX": binascii.hexlify(raw).upper(),
        "utf-16": key.encode("utf-16-le"),
    }
    # base64 of the key at each of the three byte alignments it could sit at inside a longer blob.
    for shift in range(3):
        for name, encode in (("b64", base64.b64encode), ("b64url", base64.urlsafe_b64encode)):
            encoded = encode(b"\0" * shift + raw)
            found[f"{name}+{shift}"] = encoded[4 if shift else 0 : -4]
    return found


def scan(folder: Path, key: str) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            hits += [f"{path.name}: {name}" for name, needle in forms(key).items() if needle in content]
    return hits


def test_the_key_is_nowhere_in_the_data_dir(tmp_path: Path) -> None:
    alphabet = string.ascii_letters + string.digits
    key = "lzk_live_" + "".join(secrets.choice(alphabet) for _ in range(32))
    wrong = "lzk_live_" + "".join(secrets.choice(alphabet) for _ in range(32))
    data = tmp_path / "data"
    settings = Settings.load(data, use_keyring=False)
    setup_logging(settings, verbose=True)  # DEBUG everywhere: the most a log can hold

    server = SandboxServer(generate_shipments(30, 11), api_key=key)
    server.start()
    try:
        services = build(settings)
        vendor_id = services.vendors.add("Atelier", key, server.url)
        run = asyncio.run(services.importer.run(vendor_id, "Atelier"))
        assert run.imported == 30
        assert asyncio.run(test_vendor(services.vendors, vendor_id)).ok
        assert not asyncio.run(test_key(services.vendors, server.url, wrong)).ok
        services.vendors.add("Wrong", wrong, server.url)
        failed = asyncio.run(services.importer.run(services.vendors.get("Wrong").id, "Wrong"))
        assert failed.status == "failed"
        assert services.vendors.rotate_keys() == 2
        assert asyncio.run(test_vendor(services.vendors, vendor_id)).ok

        # While the database is open: the WAL and SHM files exist and are scanned too.
        assert (data / "letzdesk.sqlite3-wal").exists()
        assert scan(data, key) == [] and scan(data, wrong) == []
        services.close()
        assert main(["vendor", "list", "--json", "--data-dir", str(data)]) == 0
    finally:
        server.stop()
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "_letzdesk", False):
                logging.getLogger().removeHandler(handler)
                handler.close()

    assert (data / "logs" / "letzdesk.log").stat().st_size > 0
    assert scan(data, key) == [] and scan(data, wrong) == []
    # The scan itself works: a file holding a form of the key is found.
    (data / "probe.bin").write_bytes(b"xx" + base64.b64encode(b"a" + key.encode()) + b"yy")
    assert "probe.bin: b64+1" in scan(data, key)
