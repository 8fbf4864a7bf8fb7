"""Command line: the same services as the window, without Qt.

Every command accepts ``--data-dir`` (or ``LETZDESK_DATA_DIR``). Errors end in one line on
standard error and a non-zero exit status; ``--json`` output goes to standard output only.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__, cli_answers
from . import cli_commands as commands
from .cli_commands import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CommandError
from .letzshop.client import DEFAULT_ENDPOINT
from .settings import Settings


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
    dry = parser.add_mutually_exclusive_group()
    dry.add_argument(
        "--dry-run",
        dest="dry_run",
        action="store_true",
        default=False if defaults else None,
        help="queue answers but never send them to Letzshop",
    )
    dry.add_argument("--no-dry-run", dest="dry_run", action="store_false")
    parser.add_argument(
        "--max-attempts",
        type=int,
        metavar="N",
        default=3 if defaults else None,
        help="times an answer is sent before it fails and waits for you, 1 to 20 (default: 3)",
    )


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
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this copy of letzdesk on a throw-away data dir and a local sandbox; prints a JSON report",
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
        "--faults",
        metavar="SPEC",
        help="make calls fail on purpose, e.g. rate=0.33,kinds=429:1+5xx:1+drop:1,latency=0.05-0.2,seed=3 "
        "(5xx is a 503; kinds also takes 500)",
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
    orders.add_argument("order", nargs="?", help="show this order or shipment with its numbered items")
    orders.add_argument("--json", action="store_true")
    _data_dir_option(orders, top=False)

    cli_answers.add_parsers(commands, _data_dir_option)

    logs = commands.add_parser("logs", help="show the sync log")
    logs.add_argument("name", nargs="?")
    logs.add_argument("--json", action="store_true")
    _data_dir_option(logs, top=False)
    for sub in (sandbox, vendor):
        _data_dir_option(sub, top=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "queue" and args.retry and args.cancel:
        parser.error("choose --retry or --cancel, not both")
    if args.self_test:
        if args.command is not None or args.demo:
            parser.error("--self-test runs on its own, without a command or --demo")
        from .selftest import run_self_test

        try:
            return run_self_test(data_dir=args.data_dir, verbose=args.verbose)
        except KeyboardInterrupt:
            print("letzdesk: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
    if args.command is None:
        from .ui.launch import run_window

        return run_window(data_dir=args.data_dir, demo=args.demo, verbose=args.verbose)
    if args.command == "sandbox":
        from .sandbox.server import run

        if not 0 <= args.port <= 65535:
            print(f"letzdesk: port {args.port} is not a number from 0 to 65535", file=sys.stderr)
            return EXIT_USAGE
        from .sandbox.faults import parse_faults

        try:
            faults = parse_faults(args.faults) if args.faults else None
        except ValueError as exc:
            print(f"letzdesk: --faults: {exc}", file=sys.stderr)
            return EXIT_USAGE
        try:
            run(
                args.host,
                args.port,
                args.shipments,
                args.seed,
                args.api_key or os.environ.get("LETZDESK_SANDBOX_KEY"),
                drift=args.drift,
                faults=faults,
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
    import sqlite3

    import sqlalchemy.exc

    from .app import build, setup_logging
    from .settings import SettingsError
    from .store.db import DB_FILENAME, DatabaseError
    from .vault import VaultError

    # These carry words meant for the user; anything else is a bug and keeps its traceback.
    expected = (CommandError, ValueError, SettingsError, DatabaseError, VaultError)
    # The machine refused (read-only files, a full disk, a lock held too long, a damaged page): one line too.
    environment = (OSError, sqlalchemy.exc.DatabaseError, sqlite3.DatabaseError)
    database = None
    try:
        settings = Settings.load(args.data_dir)
        database = settings.data_dir / DB_FILENAME
        setup_logging(settings, verbose=args.verbose)
        services = build(settings)
    except expected as exc:
        print(f"letzdesk: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except environment as exc:
        print(f"letzdesk: {_environment_message(exc, database)}", file=sys.stderr)
        return EXIT_FAILED
    try:
        handler = {
            "vendor": commands.vendor_command,
            "import": commands.import_command,
            "orders": commands.orders_command,
            "logs": commands.logs_command,
            "keys": commands.keys_command,
            "confirm": cli_answers.answer_command,
            "decline": cli_answers.answer_command,
            "tracking": cli_answers.answer_command,
            "queue": cli_answers.queue_command,
        }[args.command]
        return handler(services, args)
    except BrokenPipeError:
        raise  # main() ends quietly when the reader of our output went away
    except expected as exc:
        print(f"letzdesk: {exc}", file=sys.stderr)
        return getattr(exc, "code", EXIT_FAILED)
    except environment as exc:
        print(f"letzdesk: {_environment_message(exc, database)}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        services.close()


def _environment_message(exc: BaseException, database: Path | None = None) -> str:
    """One line for a refusal by the machine, without SQL or row values."""
    import logging

    from .store.db import describe_failure

    logging.getLogger(__name__).error("Command failed: %s", exc.__class__.__name__, exc_info=exc)
    return describe_failure(exc, database)


if __name__ == "__main__":
    sys.exit(main())
