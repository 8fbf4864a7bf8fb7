"""Command line: the same services as the window, without Qt.

Every command accepts ``--data-dir`` (or ``LETZDESK_DATA_DIR``). Errors end in one line on
standard error and a non-zero exit status; ``--json`` output goes to standard output only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from . import __version__
from .letzshop.client import DEFAULT_ENDPOINT
from .settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CommandError(Exception):
    """A failure to report in one line; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _connection_options(parser: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    auto = parser.add_mutually_exclusive_group()
    auto.add_argument(
        "--auto-sync",
        dest="auto_sync",
        action="store_true",
        default=False if defaults else None,
        help="sync on an interval when the window runs",
    )
    auto.add_argument("--no-auto-sync", dest="auto_sync", action="store_false")
    parser.add_argument(
        "--interval",
        type=int,
        metavar="MINUTES",
        default=30 if defaults else None,
        help="auto-sync interval, 5 to 1440 minutes (default: 30)",
    )
    parser.add_argument("--carrier", default=None, help="default carrier code for tracking numbers")


def _data_dir_option(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # Sub-commands use SUPPRESS so `letzdesk --data-dir X import` is not overwritten by their default.
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None if top else argparse.SUPPRESS,
        help="where letzdesk keeps its database and keys (default: the platform's data dir, or $LETZDESK_DATA_DIR)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="letzdesk", description="Letzshop order desk for vendors.")
    parser.add_argument("--version", action="version", version=f"letzdesk {__version__}")
    _data_dir_option(parser, top=True)
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open the window on a throw-away data dir with a demo vendor and a local sandbox",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug detail in the log file")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sandbox = commands.add_parser("sandbox", help="serve a local Letzshop for trying letzdesk safely")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8765, help="port to listen on (default: 8765)")
    sandbox.add_argument("--shipments", type=int, default=40, help="how many orders to generate (default: 40)")
    sandbox.add_argument("--seed", type=int, default=1, help="the same seed gives the same orders (default: 1)")
    sandbox.add_argument(
        "--drift", action="store_true", help="serve a slightly changed schema, to see letzdesk's schema check at work"
    )
    sandbox.add_argument(
        "--api-key",
        default=None,
        help="the key clients must send (default: $LETZDESK_SANDBOX_KEY; unset means no key is checked)",
    )

    vendor = commands.add_parser("vendor", help="manage vendors and their Letzshop connection")
    vendor_commands = vendor.add_subparsers(dest="vendor_command", metavar="ACTION", required=True)
    add = vendor_commands.add_parser("add", help="add a vendor (API key from $LETZSHOP_API_KEY or standard input)")
    add.add_argument("name")
    add.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=f"GraphQL endpoint (default: {DEFAULT_ENDPOINT})")
    _connection_options(add)
    edit = vendor_commands.add_parser("edit", help="change a vendor's name, endpoint, sync settings or key")
    edit.add_argument("name")
    edit.add_argument("--rename", metavar="NEW_NAME")
    edit.add_argument("--endpoint")
    edit.add_argument(
        "--new-key", action="store_true", help="replace the API key (read from $LETZSHOP_API_KEY or standard input)"
    )
    _connection_options(edit, defaults=False)
    remove = vendor_commands.add_parser("remove", help="remove a vendor, its key and its orders from this computer")
    remove.add_argument("name")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    listing = vendor_commands.add_parser("list", help="list vendors")
    listing.add_argument("--json", action="store_true")
    test = vendor_commands.add_parser("test", help="test the stored key and check Letzshop's schema")
    test.add_argument("name")
    test.add_argument("--json", action="store_true")
    test_key = vendor_commands.add_parser(
        "test-key", help="test a key without saving it (from $LETZSHOP_API_KEY or standard input)"
    )
    test_key.add_argument("--endpoint", default=DEFAULT_ENDPOINT)
    test_key.add_argument("--json", action="store_true")
    for sub in (add, edit, remove, listing, test, test_key):
        _data_dir_option(sub, top=False)

    keys = commands.add_parser("keys", help="the master key that protects the stored API keys")
    keys_commands = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    rotate = keys_commands.add_parser("rotate", help="re-encrypt every stored API key under a new master key")
    passphrase = keys_commands.add_parser(
        "passphrase",
        help="seal the master key file with a passphrase (read twice from the terminal, or once "
        "from standard input); the current one comes from $LETZDESK_PASSPHRASE",
    )
    passphrase.add_argument("--remove", action="store_true", help="unseal the key file (keep it at mode 0600 only)")
    for sub in (rotate, passphrase):
        _data_dir_option(sub, top=False)

    do_import = commands.add_parser("import", help="import the vendor's unconfirmed orders from Letzshop")
    do_import.add_argument("name")
    do_import.add_argument("--json", action="store_true")
    _data_dir_option(do_import, top=False)

    orders = commands.add_parser("orders", help="list a vendor's orders")
    orders.add_argument("name")
    orders.add_argument("--json", action="store_true")
    _data_dir_option(orders, top=False)

    logs = commands.add_parser("logs", help="show the sync log")
    logs.add_argument("name", nargs="?")
    logs.add_argument("--json", action="store_true")
    _data_dir_option(logs, top=False)
    for sub in (sandbox, vendor):
        _data_dir_option(sub, top=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        from .ui.launch import run_window

        return run_window(data_dir=args.data_dir, demo=args.demo, verbose=args.verbose)
    if args.command == "sandbox":
        from .sandbox.server import run

        if not 0 <= args.port <= 65535:
            print(f"letzdesk: port {args.port} is not a number from 0 to 65535", file=sys.stderr)
            return EXIT_USAGE
        try:
            run(
                args.host,
                args.port,
                args.shipments,
                args.seed,
                args.api_key or os.environ.get("LETZDESK_SANDBOX_KEY"),
                drift=args.drift,
            )
        except RuntimeError as exc:  # the port is taken, or the address is not this machine's
            print(f"letzdesk: {exc}", file=sys.stderr)
            return EXIT_FAILED
        return EXIT_OK

    try:
        return _run_command(args)
    except KeyboardInterrupt:
        print("letzdesk: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`letzdesk orders X | head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _run_command(args: argparse.Namespace) -> int:
    import sqlalchemy.exc

    from .app import build, setup_logging
    from .settings import SettingsError
    from .store.db import DatabaseError
    from .vault import VaultError

    # These carry words meant for the user; anything else is a bug and keeps its traceback.
    expected = (CommandError, ValueError, SettingsError, DatabaseError, VaultError)
    # The machine refused (read-only files, a full disk, a lock held too long): one line too.
    environment = (OSError, sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError)
    try:
        settings = Settings.load(args.data_dir)
        setup_logging(settings, verbose=args.verbose)
        services = build(settings)
    except expected as exc:
        print(f"letzdesk: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except environment as exc:
        print(f"letzdesk: {_environment_message(exc)}", file=sys.stderr)
        return EXIT_FAILED
    try:
        handler = {"vendor": _vendor, "import": _import, "orders": _orders, "logs": _logs, "keys": _keys}[args.command]
        return handler(services, args)
    except expected as exc:
        print(f"letzdesk: {exc}", file=sys.stderr)
        return getattr(exc, "code", EXIT_FAILED)
    except environment as exc:
        print(f"letzdesk: {_environment_message(exc)}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        services.close()


def _environment_message(exc: BaseException) -> str:
    """One line for a refusal by the machine, without SQL or row values."""
    import logging

    logging.getLogger(__name__).error("Command failed: %s", exc.__class__.__name__, exc_info=exc)
    detail = getattr(exc, "orig", None) or exc
    if isinstance(detail, OSError) and detail.strerror:
        where = f" ({detail.filename})" if detail.filename else ""
        return f"the computer refused: {detail.strerror}{where}. Nothing committed was lost."
    return f"the database refused the change: {str(detail).splitlines()[0][:200]}. Nothing committed was lost."


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2, default=_json_default)
    sys.stdout.write("\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _read_api_key() -> str:
    key = os.environ.get("LETZSHOP_API_KEY", "").strip()
    if not key:
        if sys.stdin.isatty():
            import getpass

            key = getpass.getpass("Letzshop API key: ").strip()
        else:
            key = sys.stdin.readline().strip()
    if not key:
        raise CommandError("no API key given: set LETZSHOP_API_KEY or pass it on standard input", EXIT_USAGE)
    return key


def _vendor(services: Any, args: argparse.Namespace) -> int:
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
        )
        print(f"Changed vendor {args.rename or args.name}.")
        return EXIT_OK
    if action == "remove":
        return _remove(services, args)
    if action in ("test", "test-key"):
        return _test(services, args)

    vendors = services.vendors.list()
    if args.json:
        _print_json([{**v.__dict__, "key_store": services.vault.describe()} for v in vendors])
        return EXIT_OK
    if not vendors:
        print("No vendors yet. Add one with: letzdesk vendor add NAME --endpoint URL")
    for v in vendors:
        last = v.last_sync_at.astimezone().strftime("%Y-%m-%d %H:%M") if v.last_sync_at else "never"
        auto = f"auto-sync every {v.interval_minutes} min" if v.auto_sync else "auto-sync off"
        api = f"  API CHANGED ({len(v.schema_drift)} mismatches)" if v.schema_drift else ""
        print(
            f"{v.name}  {v.endpoint}  key {v.masked_key}  {auto}  orders {v.orders} ({v.pending} pending)  "
            f"last sync {last} {v.last_sync_status or ''}{api}".rstrip()
        )
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
        if input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
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
        _print_json(report.__dict__)
    else:
        print(report.message, file=sys.stdout if report.ok else sys.stderr)
        for line in report.drift:
            print(f"  {line}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


def _read_new_passphrase() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("New passphrase: ")
    if getpass.getpass("Again: ") != first:
        raise CommandError("the two passphrases differ; nothing changed", EXIT_USAGE)
    return first


def _keys(services: Any, args: argparse.Namespace) -> int:
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


def _import(services: Any, args: argparse.Namespace) -> int:
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
        _print_json(summary)
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


def _orders(services: Any, args: argparse.Namespace) -> int:
    from .services.orders import format_cents, order_to_dict, orders_for

    vendor = services.vendors.get(args.name)
    orders = orders_for(services.db, vendor.id)
    if args.json:
        _print_json([order_to_dict(order) for order in orders])
        return EXIT_OK
    for order in orders:
        when = order.completed_at.astimezone().strftime("%Y-%m-%d %H:%M") if order.completed_at else "?"
        print(
            f"{order.order_number or order.shipment_number or order.shipment_id:<12} {when}  "
            f"{(order.customer_name or '')[:28]:<28} {_items(len(order.units)):>8}  "
            f"{format_cents(order.total_cents) or '':>9} {order.currency}  {order.status}"
        )
    return EXIT_OK


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def _logs(services: Any, args: argparse.Namespace) -> int:
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
        _print_json([{name: getattr(row, name) for name in columns} for row in rows])
        return EXIT_OK
    for row in rows:
        print(
            f"{row.started_at.astimezone():%Y-%m-%d %H:%M:%S}  {row.vendor_name}  {row.operation}  {row.status}  "
            f"{row.imported} imported, {row.updated} updated, {row.unchanged} unchanged, {row.failed} failed  "
            f"{row.duration_ms} ms  ({row.trigger}){'  ' + row.error if row.error else ''}"
        )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
