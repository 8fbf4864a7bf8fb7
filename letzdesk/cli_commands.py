"""What each command-line command does, given the built services; the parser lives in cli.py."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import datetime
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CommandError(Exception):
    """A failure to report in one line; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2, default=_json_default)
    sys.stdout.write("\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


NO_API_KEY = "no API key given: set LETZSHOP_API_KEY or pass it on standard input"


def _ask(prompt: str, *, secret: bool = True) -> str:
    """One answer typed at the terminal; Ctrl-D (end of input) gives ""."""
    import getpass

    try:
        return getpass.getpass(prompt) if secret else input(prompt)
    except EOFError:
        print(file=sys.stderr)  # end the prompt's line, so the message starts on its own
        return ""


def _read_api_key() -> str:
    key = os.environ.get("LETZSHOP_API_KEY", "").strip()
    if not key:
        key = _ask("Letzshop API key: ").strip() if sys.stdin.isatty() else sys.stdin.readline().strip()
    if not key:
        raise CommandError(NO_API_KEY, EXIT_USAGE)
    return key


def vendor_command(services: Any, args: argparse.Namespace) -> int:
    action = args.vendor_command
    if action == "add":
        api_key = _read_api_key()
        services.vendors.add(
            args.name,
            api_key,
            args.endpoint,
            auto_sync=args.auto_sync,
            interval_minutes=args.interval,
            default_carrier=args.carrier,
            dry_run=args.dry_run,
            max_attempts=args.max_attempts,
        )
        print(
            f"Added vendor {args.name} ({args.endpoint}); key stored encrypted, master key in "
            f"{services.vault.describe()}."
        )
        return EXIT_OK
    if action == "edit":
        vendor = services.vendors.get(args.name)
        services.vendors.edit(
            vendor.id,
            name=args.rename,
            endpoint=args.endpoint,
            api_key=_read_api_key() if args.new_key else None,
            auto_sync=args.auto_sync,
            interval_minutes=args.interval,
            default_carrier=args.carrier,
            dry_run=args.dry_run,
            max_attempts=args.max_attempts,
        )
        print(f"Changed vendor {args.rename or args.name}.")
        return EXIT_OK
    if action == "remove":
        return _remove(services, args)
    if action in ("test", "test-key"):
        return _test(services, args)

    vendors = services.vendors.list()
    if args.json:
        print_json([{**v.__dict__, "key_store": services.vault.describe()} for v in vendors])
        return EXIT_OK
    if not vendors:
        print("No vendors yet. Add one with: letzdesk vendor add NAME --endpoint URL")
    for v in vendors:
        last = v.last_sync_at.astimezone().strftime("%Y-%m-%d %H:%M") if v.last_sync_at else "never"
        auto = f"auto-sync every {v.interval_minutes} min" if v.auto_sync else "auto-sync off"
        api = f"  API CHANGED ({len(v.schema_drift)} mismatches)" if v.schema_drift else ""
        answers = "  DRY RUN: answers are not sent" if v.dry_run else ""
        failing = f"  {v.failing_tasks} answer(s) failed" if v.failing_tasks else ""
        print(
            f"{v.name}  {v.endpoint}  key {v.masked_key}  {auto}  orders {v.orders} ({v.pending} pending)  "
            f"last sync {last} {v.last_sync_status or ''}{api}{answers}{failing}".rstrip()
        )
        if v.last_sync_error:  # as the Vendors tab: the last sync's error, or why auto-sync was paused
            print(f"  {v.last_sync_error}")
    print(f"Master key store: {services.vault.describe()}")
    return EXIT_OK


def _remove(services: Any, args: argparse.Namespace) -> int:
    vendor = services.vendors.get(args.name)
    summary = services.vendors.removal_summary(vendor.id)
    question = (
        f"Remove {summary.name}? Its API key and its {summary.orders} orders ({summary.units} items) are "
        f"deleted from this computer; its {summary.sync_logs} sync log entries are kept. "
        "Nothing changes on Letzshop."
    )
    if not args.yes:
        if not sys.stdin.isatty():
            raise CommandError(f"{question} Add --yes to confirm.", EXIT_USAGE)
        if _ask(f"{question} [y/N] ", secret=False).strip().lower() not in ("y", "yes"):
            print("Nothing removed.")
            return EXIT_FAILED
    services.vendors.remove(vendor.id)
    print(f"Removed {summary.name}: {summary.orders} orders deleted, {summary.sync_logs} log entries kept.")
    return EXIT_OK


def _test(services: Any, args: argparse.Namespace) -> int:
    from .services.connection import test_key, test_vendor

    if args.vendor_command == "test":
        vendor = services.vendors.get(args.name)
        report = asyncio.run(test_vendor(services.vendors, vendor.id))
    else:
        report = asyncio.run(test_key(services.vendors, args.endpoint, _read_api_key()))
    if args.json:
        print_json(report.__dict__)
    else:
        print(report.message, file=sys.stdout if report.ok else sys.stderr)
        for line in report.drift:
            print(f"  {line}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


def _read_new_passphrase() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = _ask("New passphrase: ")
    if not first:
        raise CommandError("no passphrase given; nothing changed", EXIT_USAGE)
    if _ask("Again: ") != first:
        raise CommandError("the two passphrases differ; nothing changed", EXIT_USAGE)
    return first


def keys_command(services: Any, args: argparse.Namespace) -> int:
    if args.keys_command == "passphrase":
        new = None if args.remove else _read_new_passphrase()
        services.vault.set_passphrase(new)
        print(f"The master key is now in {services.vault.describe()}.")
        if new:
            print("Set LETZDESK_PASSPHRASE, or type the passphrase when the window asks, to open it from now on.")
        return EXIT_OK
    count = services.vendors.rotate_keys()
    print(f"Re-encrypted {count} API key(s) under a new master key in {services.vault.describe()}.")
    return EXIT_OK


def import_command(services: Any, args: argparse.Namespace) -> int:
    vendor = services.vendors.get(args.name)
    run = asyncio.run(services.importer.run(vendor.id, vendor.name, trigger="cli"))
    summary = {
        "vendor": vendor.name,
        "status": run.status,
        "imported": run.imported,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "failed": run.failed,
        "pages": run.pages,
        "error": run.error,
    }
    if args.json:
        print_json(summary)
    else:
        print(
            f"{vendor.name}: {run.imported} imported, {run.updated} updated, {run.unchanged} unchanged, "
            f"{run.failed} failed ({run.status})"
        )
    if run.error:
        if not args.json:
            print(f"letzdesk: {run.error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def orders_command(services: Any, args: argparse.Namespace) -> int:
    from .services.orders import format_cents, order_to_dict, orders_for

    vendor = services.vendors.get(args.name)
    orders = orders_for(services.db, vendor.id)
    if args.order:
        pk = services.answers.find_order(vendor.id, args.order)
        orders = [order for order in orders if order.id == pk]
    writeback = services.answers.writeback([order.id for order in orders] if args.order else None)
    if args.json:
        print_json([_with_writeback(order_to_dict(order), writeback.get(order.id)) for order in orders])
        return EXIT_OK
    if args.order:
        _print_order(orders[0], writeback.get(orders[0].id))
        return EXIT_OK
    for order in orders:
        when = order.completed_at.astimezone().strftime("%Y-%m-%d %H:%M") if order.completed_at else "?"
        print(
            f"{order.order_number or order.shipment_number or order.shipment_id:<12} {when}  "
            f"{(order.customer_name or '')[:28]:<28} {_items(len(order.units)):>8}  "
            f"{format_cents(order.total_cents) or '':>9} {order.currency}  {order.status}"
        )
    return EXIT_OK


def _with_writeback(row: dict[str, Any], writeback: Any) -> dict[str, Any]:
    row["letzshop"] = {"state": writeback.state, "text": writeback.text} if writeback else None
    return row


def _print_order(order: Any, writeback: Any) -> None:
    from .services.orders import format_cents
    from .services.status import effective_state

    print(f"Order {order.order_number}  shipment {order.shipment_number}  {order.status}")
    print(f"  {order.customer_name or ''} <{order.customer_email or ''}>")
    if order.tracking_number:
        print(f"  tracking {order.tracking_number} ({order.tracking_carrier or 'no carrier'})")
    if writeback:
        print(f"  Letzshop: {writeback.text}")
    words = {"unconfirmed": "open", "confirmed_available": "confirmed", "confirmed_unavailable": "declined"}
    for number, unit in enumerate(order.units, 1):
        state = effective_state(unit.state, unit.answer) or "?"
        queued = " (queued, not yet on Letzshop)" if state != unit.state else ""
        state = words.get(state, state)
        reason = f"  reason: {unit.decline_reason}" if unit.decline_reason else ""
        print(
            f"  {number:>2}. {(unit.name or unit.sku or '')[:40]:<40} {format_cents(unit.price_cents) or '':>8}  "
            f"{state}{queued}{reason}   id {unit.unit_id}"
        )


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def logs_command(services: Any, args: argparse.Namespace) -> int:
    from .services import synclog

    vendor_id = services.vendors.get(args.name).id if args.name else None
    rows = synclog.recent(services.db, vendor_id)
    if args.json:
        columns = (
            "id",
            "vendor_name",
            "operation",
            "direction",
            "status",
            "processed",
            "succeeded",
            "failed",
            "imported",
            "updated",
            "unchanged",
            "error",
            "details",
            "started_at",
            "finished_at",
            "duration_ms",
            "trigger",
        )
        print_json([{name: getattr(row, name) for name in columns} for row in rows])
        return EXIT_OK
    for row in rows:
        if row.direction == "outbound":
            counts = f"{row.updated} sent, {row.failed} failed"
        else:
            counts = f"{row.imported} imported, {row.updated} updated, {row.unchanged} unchanged, {row.failed} failed"
        print(
            f"{row.started_at.astimezone():%Y-%m-%d %H:%M:%S}  {row.vendor_name}  {row.operation}  {row.status}  "
            f"{counts}  "
            f"{row.duration_ms} ms  ({row.trigger}){'  ' + row.error if row.error else ''}"
        )
    return EXIT_OK
