"""Command-line answers: confirm, decline, tracking, and the queue that sends them.

An answer is queued first (it is safe from then on), then sent once at once; whatever cannot
be sent now waits in the queue for ``letzdesk queue NAME --run`` or the window.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from typing import TYPE_CHECKING, Any

from .cli_commands import EXIT_FAILED, EXIT_OK, CommandError, _items, print_json

if TYPE_CHECKING:  # the services load SQLAlchemy: only when a command runs, not for --help
    from .services.answers import Queued
    from .services.outbox import TaskView
    from .services.worker import DrainReport

_STATE_WORDS = {
    "pending": "waiting",
    "in_flight": "sending",
    "done": "done",
    "failed": "FAILED",
    "cancelled": "cancelled",
}


def add_parsers(commands: Any, data_dir_option: Any) -> None:
    confirm = commands.add_parser("confirm", help="confirm items of an order (all open items when none are named)")
    confirm.add_argument("name", help="vendor")
    confirm.add_argument("order", help="order or shipment number")
    confirm.add_argument("units", nargs="*", metavar="UNIT", help="item ids, or item numbers 1, 2, … as listed")
    decline = commands.add_parser("decline", help="decline items of an order (all open items when none are named)")
    decline.add_argument("name", help="vendor")
    decline.add_argument("order", help="order or shipment number")
    decline.add_argument("units", nargs="*", metavar="UNIT", help="item ids, or item numbers 1, 2, … as listed")
    decline.add_argument("--reason", required=True, help="why (kept in letzdesk; Letzshop's answer has no reason)")
    tracking = commands.add_parser("tracking", help="set the tracking number of an order with confirmed items")
    tracking.add_argument("name", help="vendor")
    tracking.add_argument("order", help="order or shipment number")
    tracking.add_argument("number", help="tracking number (spaces are removed, letters made upper case)")
    tracking.add_argument(
        "--carrier",
        help="carrier: post_lu, dhl, dpd, gls, ups, fedex, bpost, colissimo, or another carrier's name "
        "(default: the vendor's default carrier)",
    )
    queue = commands.add_parser("queue", help="list the answers waiting for Letzshop, or send them")
    queue.add_argument("name", nargs="?", help="only this vendor")
    queue.add_argument("--run", action="store_true", help="send every answer that is due")
    queue.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --run, also wait for retries that fall due within this many seconds",
    )
    queue.add_argument("--all", action="store_true", help="include done and cancelled answers")
    queue.add_argument(
        "--retry", type=int, nargs="+", metavar="ID", help="send these answers again (failed) or now (waiting)"
    )
    queue.add_argument(
        "--cancel", type=int, nargs="+", metavar="ID", help="cancel these waiting or failed answers (items open again)"
    )
    queue.add_argument("--json", action="store_true")
    for sub in (confirm, decline, tracking, queue):
        data_dir_option(sub, top=False)


def answer_command(services: Any, args: argparse.Namespace) -> int:
    vendor = services.vendors.get(args.name)
    order_pk = services.answers.find_order(vendor.id, args.order)
    if args.command == "tracking":
        queued = services.answers.set_tracking(vendor.id, order_pk, args.number, args.carrier)
        what = "Tracking"
    else:
        units = _unit_ids(services, order_pk, args.units) if args.units else None
        if args.command == "confirm":
            queued = services.answers.confirm(vendor.id, order_pk, units)
        else:
            queued = services.answers.decline(vendor.id, order_pk, units, args.reason)
        what = f"{args.command.capitalize()} of {_items(len(queued.units))}"
    if queued.task_id is None:
        print(_nothing_to_send(args.command, queued, vendor.name, args.order))
        return EXIT_OK

    # Only this order's answers, each tried once: the command ends even while Letzshop struggles.
    waiting = [t.id for t in services.answers.tasks(vendor.id, ["pending"], order_pk=order_pk)]
    report = asyncio.run(services.worker.drain([vendor.id], trigger="cli", task_ids=waiting))
    task = next(t for t in services.answers.tasks(vendor.id, order_pk=order_pk) if t.id == queued.task_id)
    return _said(what, args.order, task, report, vendor.name)


def _unit_ids(services: Any, order_pk: int, given: list[str]) -> list[str]:
    """Item ids as given, or 1-based item numbers as `letzdesk orders` lists them."""
    from .services.answers import AnswerError
    from .store.models import InventoryUnit

    with services.db.session() as session:
        ids = [
            unit_id
            for (unit_id,) in session.query(InventoryUnit.unit_id)
            .filter(InventoryUnit.order_pk == order_pk)
            .order_by(InventoryUnit.position)
        ]
    chosen = []
    for value in given:
        if value in ids:
            chosen.append(value)
        elif value.isascii() and value.isdigit() and 1 <= int(value) <= len(ids):
            chosen.append(ids[int(value) - 1])
        else:
            raise AnswerError(f"This order has no item {value!r}; it has items 1 to {len(ids)}.")
    return chosen


def _nothing_to_send(command: str, queued: Queued, vendor: str, order: str) -> str:
    if command == "tracking":
        return "This tracking number was already sent; nothing to do."
    done = "confirmed" if command == "confirm" else "declined"
    if not queued.unchanged:
        # With no items named only open items are answered, so a queued answer of the other kind stands.
        example = f"letzdesk {command} {shlex.quote(vendor)} {shlex.quote(order)} 1 2 …"
        if command == "decline":
            example += " --reason …"
        return (
            f"Nothing to {command}: every item of this order already has an answer, sent or queued. "
            f"To change a queued one, name its items: {example}"
        )
    return f"Nothing to send: {_items(len(queued.unchanged))} already {done} or on the way."


def _said(what: str, order: str, task: TaskView, report: DrainReport, vendor: str) -> int:
    """What happened to the answer just queued, and what (if anything) the vendor should do."""
    if task.status == "done":
        print(f"{what} for order {order} sent to Letzshop.")
        return EXIT_OK
    if task.status == "failed":
        print(f"letzdesk: Letzshop did not take the answer for order {order}: {task.last_error}", file=sys.stderr)
        return EXIT_FAILED
    queued = f"{what} for order {order} is queued, not sent yet"
    if report.busy:
        print(
            f"{queued}: another letzdesk (a window or `queue --run`) is sending answers for this data folder. "
            "Check with: letzdesk queue"
        )
    elif task.dry_run:
        print(f"{queued}: dry run is on for {vendor}. To send: letzdesk vendor edit {shlex.quote(vendor)} --no-dry-run")
    elif report.held:
        print(f"{queued}: {next(iter(report.held.values())).rstrip('.')}.")
    else:
        why = (task.last_error or "an earlier answer of this order goes first").rstrip(".")
        when = task.next_attempt_at.astimezone().strftime("%H:%M:%S")
        print(
            f"{queued}: {why}. It is tried again from {when}: an open letzdesk window does that by itself, "
            "or run: letzdesk queue --run"
        )
    return EXIT_OK


def queue_command(services: Any, args: argparse.Namespace) -> int:
    vendor_id = services.vendors.get(args.name).id if args.name else None
    if args.retry or args.cancel:
        return _retry_or_cancel(services, args)
    report = None
    if args.run:
        if not 0 <= args.wait <= 86_400:  # also refuses nan and inf
            raise CommandError("--wait is a number of seconds, from 0 to 86400")
        report = asyncio.run(
            services.worker.drain(None if vendor_id is None else [vendor_id], wait=args.wait, trigger="cli")
        )
    statuses = None if args.all else ("pending", "in_flight", "failed")
    tasks = services.answers.tasks(vendor_id, statuses)
    if args.json:
        result: dict[str, Any] = {"tasks": [_task_dict(task) for task in tasks]}
        if report is not None:
            result["run"] = {
                "done": report.done,
                "failed": report.failed,
                "retrying": report.retrying,
                "held": report.held,
                "busy": report.busy,
            }
        print_json(result)
    else:
        if report is not None:
            _print_report(report)
        if tasks:
            print(_HEADER)
        for task in tasks:
            print(_task_line(task))
        if not tasks:
            print("The queue is empty." if args.all else "No answer is waiting or failed.")
    return EXIT_FAILED if report is not None and report.failed else EXIT_OK


def _retry_or_cancel(services: Any, args: argparse.Namespace) -> int:
    ids = args.retry or args.cancel
    known = {task.id for task in services.answers.tasks()}
    unknown = [task_id for task_id in ids if task_id not in known]
    if unknown:
        raise CommandError(f"No answer #{unknown[0]} in the queue; see: letzdesk queue --all")
    if args.retry:
        count = services.answers.retry(ids)
        print(f"{count} of {len(ids)} answer(s) will be sent again (done or cancelled ones are left alone).")
        if count:
            report = asyncio.run(services.worker.drain(trigger="cli", task_ids=ids))
            _print_report(report)
    else:
        count = services.answers.cancel(ids)
        print(f"Cancelled {count} of {len(ids)} answer(s) (sending, done or cancelled ones are left alone).")
    return EXIT_OK


def _print_report(report: DrainReport) -> None:
    if report.busy:
        print("Another letzdesk window or command is sending answers for this data folder; nothing sent from here.")
        return
    print(f"Sent {report.done}, failed {report.failed}, to retry {report.retrying}.")
    for vendor, reason in report.held.items():
        print(f"{vendor}: not sent: {reason}")
    for error in report.errors:
        print(f"  {error}")


_HEADER = f"{'ID':<6} {'Vendor':<16} {'Order':<12} {'Answer':<28} {'State':<9} tries"


def _task_line(task: TaskView) -> str:
    state = _STATE_WORDS.get(task.status, task.status)
    if task.status == "pending" and task.dry_run:
        state = "held (dry run)"
    when = ""
    if task.status == "pending" and (task.attempts or task.verify or task.last_error):
        when = f" next {task.next_attempt_at.astimezone():%H:%M:%S}"
    error = f"  {task.last_error}" if task.last_error and task.status != "done" else ""
    return (
        f"#{task.id:<5} {task.vendor_name:<16} {task.order_number or task.shipment_number or '?':<12} "
        f"{task.summary:<28} {state:<9} {task.attempts}/{task.max_attempts}{when}{error}"
    )


def _task_dict(task: TaskView) -> dict[str, Any]:
    return {
        "id": task.id,
        "vendor": task.vendor_name,
        "order_number": task.order_number,
        "shipment_number": task.shipment_number,
        "operation": task.operation,
        "payload": task.payload,
        "status": task.status,
        "attempts": task.attempts,
        "max_attempts": task.max_attempts,
        "next_attempt_at": task.next_attempt_at,
        "last_error": task.last_error,
        "created_at": task.created_at,
        "finished_at": task.finished_at,
        "dry_run": task.dry_run,
    }
