"""The sandbox's whole world: shipments, the key, faults, and a record of every answer applied.

Requests read it through the GraphQL resolvers in server.py; tests and tools read it from
other threads through the copying methods at the end of ``SandboxState``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError

from letzdesk.sandbox.faults import Faults

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
UNAUTHORIZED_BODY = {"errors": [{"message": "Invalid or missing API key"}]}


def encode_cursor(position: int) -> str:
    """Opaque cursor for the node at 1-based ``position``; ``after`` it, paging resumes at that offset."""
    return base64.b64encode(str(position).encode("ascii")).decode("ascii")


def decode_cursor(cursor: str) -> int:
    """Offset to resume at, or a GraphQL error the client sees in ``errors`` (HTTP 200)."""
    try:
        offset = int(base64.b64decode(cursor.encode("ascii"), validate=True).decode("ascii"))
    except (UnicodeError, binascii.Error, ValueError):
        raise GraphQLError(f"Invalid cursor: {cursor!r}") from None
    if offset < 0:
        raise GraphQLError(f"Invalid cursor: {cursor!r}")
    return offset


@dataclass
class SandboxState:
    """The sandbox's whole world. Mutations change it, then call ``touch()`` so cached views refresh.

    The shipments are changed in place: units and shipments must be dicts of their own (as
    ``generate_shipments`` makes them); variants may be shared, and are never written.

    ``_lock`` guards what a mutation changes and what another thread reads back: unit states,
    shipment states and tracking, the record of applied calls and the id indexes. Mutations and
    paging both run on the server's one event loop thread, so paging needs no lock against them;
    tests read the record and look units up from their own thread.
    """

    shipments: list[dict[str, Any]]
    api_key: str | None = None
    faults: Faults | None = None
    version: int = 0
    _selections: dict[str | None, list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _units: dict[str, tuple[dict[str, Any], dict[str, Any]]] | None = field(default=None, repr=False)
    _shipments: dict[str, dict[str, Any]] | None = field(default=None, repr=False)
    _answers: dict[str, list[bool]] = field(default_factory=dict, repr=False)
    _trackings: dict[str, list[dict[str, str]]] = field(default_factory=dict, repr=False)

    def touch(self, reindex: bool = True) -> None:
        """Invalidate per-state selections after any change to shipments.

        Callers that add or remove shipments or units must let the id indexes be rebuilt
        (the default); the mutations only change states and tracking and pass ``reindex=False``.
        """
        self.version += 1
        self._selections.clear()
        if reindex:
            with self._lock:
                self._units = self._shipments = None

    def reset(self, shipments: list[dict[str, Any]]) -> None:
        """Start over with these shipments and an empty record, without restarting the server.

        Call it between requests: paging does not lock against it. Key and faults are settings
        and stay as they are.
        """
        with self._lock:
            self.shipments = shipments
            self._answers.clear()
            self._trackings.clear()
        self.touch()

    def select(self, state: str | None) -> list[dict[str, Any]]:
        """Shipments in ``state`` (all for None), cached so paging 10,000 shipments stays linear."""
        selection = self._selections.get(state)
        if selection is None:
            selection = self.shipments if state is None else [s for s in self.shipments if s.get("state") == state]
            self._selections[state] = selection
        return selection

    def page(self, state: str | None, first: int | None, after: str | None) -> dict[str, Any]:
        """One Relay page: ``first`` defaults to 50 and is clamped to 100, like a typical server-side cap."""
        if first is None:
            first = DEFAULT_PAGE_SIZE
        if first < 0:
            raise GraphQLError("Argument 'first' must not be negative.")
        first = min(first, MAX_PAGE_SIZE)

        selection = self.select(state)
        start = 0 if after is None else decode_cursor(after)
        nodes = selection[start : start + first]
        end = start + len(nodes)

        return {
            "nodes": nodes,
            "pageInfo": {
                "hasNextPage": end < len(selection),
                "hasPreviousPage": start > 0,
                "startCursor": encode_cursor(start + 1) if nodes else None,
                "endCursor": encode_cursor(end) if nodes else None,
            },
        }

    # --- mutations ------------------------------------------------------------------------------

    def confirm_units(self, answers: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply each answer on its own, so one bad id never blocks the rest (partial success).

        A repeat of the state a unit already has is accepted and recorded (a retry after an
        unknown outcome must not fail); any other change to an answered unit is refused.
        """
        errors: list[dict[str, str]] = []
        named: dict[str, dict[str, Any]] = {}
        touched: dict[int, dict[str, Any]] = {}

        with self._lock:
            units, _ = self._indexes()
            for answer in answers:
                unit_id, available = answer["inventoryUnitId"], answer["isAvailable"]
                found = units.get(unit_id)
                if found is None:
                    errors.append(_error(unit_id, "NOT_FOUND", f"Inventory unit {unit_id} does not exist."))
                    continue
                shipment, unit = found
                named.setdefault(unit_id, unit)
                target = "confirmed_available" if available else "confirmed_unavailable"
                if unit["state"] not in ("unconfirmed", target):
                    message = f"Inventory unit {unit_id} is already {unit['state']} and cannot be changed."
                    errors.append(_error(unit_id, "INVALID_TRANSITION", message))
                    continue
                unit["state"] = target
                self._answers.setdefault(unit_id, []).append(available)
                touched[id(shipment)] = shipment

            # "declined" is no shipment state: a shipment with every unit answered is confirmed.
            for shipment in touched.values():
                if all(unit["state"] != "unconfirmed" for unit in shipment["inventoryUnits"]):
                    shipment["state"] = "confirmed"
            result = [dict(unit) for unit in named.values()]

        self.touch(reindex=False)
        logger.info("confirmInventoryUnits: %d answers, %d refused", len(answers), len(errors))
        return {"inventoryUnits": result, "errors": errors}

    def set_tracking(self, shipment_id: str, code: str, provider: str) -> dict[str, Any]:
        """Set a shipment's tracking; setting it again, to the same or other values, is accepted."""
        with self._lock:
            _, shipments = self._indexes()
            shipment = shipments.get(shipment_id)
            if shipment is None:
                error = _error(shipment_id, "NOT_FOUND", f"Shipment {shipment_id} does not exist.")
            elif not code.strip():
                error = _error(shipment_id, "INVALID", "The tracking code must not be blank.")
            elif not any(unit["state"] == "confirmed_available" for unit in shipment["inventoryUnits"] or ()):
                message = f"Shipment {shipment_id} has no confirmed item to ship; confirm a unit before tracking."
                error = _error(shipment_id, "NOT_CONFIRMED", message)
            else:
                error = None
            if error is not None:
                logger.info("setShipmentTracking refused for %s: %s", shipment_id, error["code"])
                return {"shipment": None, "errors": [error]}

            shipment["tracking"] = {"code": code, "provider": provider}
            self._trackings.setdefault(shipment_id, []).append({"code": code, "provider": provider})
            result = _snapshot(shipment)

        self.touch(reindex=False)
        logger.info("setShipmentTracking: tracking set on %s", shipment_id)
        return {"shipment": result, "errors": []}

    def _indexes(self) -> tuple[dict[str, tuple[dict[str, Any], dict[str, Any]]], dict[str, dict[str, Any]]]:
        """Unit id -> (shipment, unit) and shipment id -> shipment, built once per ``touch()``.

        Call with ``_lock`` held.
        """
        if self._units is None or self._shipments is None:
            self._shipments = {shipment["id"]: shipment for shipment in self.shipments}
            self._units = {
                unit["id"]: (shipment, unit) for shipment in self.shipments for unit in shipment["inventoryUnits"] or ()
            }
        return self._units, self._shipments

    # --- read-back for tests and tools (any thread) ------------------------------------------------

    def unit(self, unit_id: str) -> dict[str, Any] | None:
        """A copy of the unit as it is now, or None."""
        with self._lock:
            found = self._indexes()[0].get(unit_id)
            return None if found is None else dict(found[1])

    def shipment(self, shipment_id: str) -> dict[str, Any] | None:
        """A copy of the shipment and its units as they are now, or None."""
        with self._lock:
            found = self._indexes()[1].get(shipment_id)
            return None if found is None else _snapshot(found)

    def answers(self, unit_id: str) -> list[bool]:
        """Every answer applied to a unit, in order (idempotent repeats included; refusals not)."""
        with self._lock:
            return list(self._answers.get(unit_id, ()))

    def answer_counts(self) -> dict[str, int]:
        """How many answers were applied, per unit id that got any."""
        with self._lock:
            return {unit_id: len(answers) for unit_id, answers in self._answers.items()}

    def trackings(self, shipment_id: str) -> list[dict[str, str]]:
        """Every tracking set on a shipment, in order."""
        with self._lock:
            return [dict(tracking) for tracking in self._trackings.get(shipment_id, ())]

    def tracking_counts(self) -> dict[str, int]:
        """How many times tracking was set, per shipment id that got any."""
        with self._lock:
            return {shipment_id: len(sets) for shipment_id, sets in self._trackings.items()}

    def record(self) -> dict[str, Any]:
        """Every answer and tracking applied, by unit and shipment id: what ``GET /sandbox/record`` serves."""
        with self._lock:
            return {
                "answers": {unit_id: list(answers) for unit_id, answers in self._answers.items()},
                "trackings": {sid: [dict(t) for t in sets] for sid, sets in self._trackings.items()},
            }


def _error(item_id: str, code: str, message: str) -> dict[str, str]:
    return {"id": item_id, "code": code, "message": message}


def _snapshot(shipment: dict[str, Any]) -> dict[str, Any]:
    """A shipment copy whose units and tracking are copies too, safe to hand to another thread."""
    units = shipment.get("inventoryUnits")
    tracking = shipment.get("tracking")
    return {
        **shipment,
        "inventoryUnits": None if units is None else [dict(unit) for unit in units],
        "tracking": None if tracking is None else dict(tracking),
    }
