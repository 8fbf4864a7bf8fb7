"""The order status a vendor sees, derived from Letzshop's unit states and tracking."""

from __future__ import annotations

from collections.abc import Iterable

PENDING = "pending"
CONFIRMED = "confirmed"
PARTIALLY_CONFIRMED = "partially confirmed"
DECLINED = "declined"
SHIPPED = "shipped"
STATUSES = (PENDING, CONFIRMED, PARTIALLY_CONFIRMED, DECLINED, SHIPPED)

UNIT_UNCONFIRMED = "unconfirmed"
UNIT_AVAILABLE = "confirmed_available"
UNIT_UNAVAILABLE = "confirmed_unavailable"
UNIT_RETURNED = "returned"


def derive_status(
    unit_states: Iterable[str | None], *, has_tracking: bool = False, shipment_state: str | None = None
) -> str:
    """pending while any unit awaits an answer; declined when all were declined;
    confirmed when all were accepted, partially confirmed for a mix; shipped once tracked."""
    states = list(unit_states)
    if not states or any(state in (None, UNIT_UNCONFIRMED) for state in states):
        return PENDING
    accepted = sum(state in (UNIT_AVAILABLE, UNIT_RETURNED) for state in states)
    if accepted == 0:
        return DECLINED
    if has_tracking or shipment_state == "shipped":
        return SHIPPED
    return CONFIRMED if accepted == len(states) else PARTIALLY_CONFIRMED


def effective_state(state: str | None, answer: str | None) -> str | None:
    """The vendor's queued or sent answer where Letzshop has none yet; otherwise Letzshop's state.

    A stale import (Letzshop still saying unconfirmed) never hides an answer, and whatever
    Letzshop says once it has one (returned, say) shows through.
    """
    if answer and state in (None, UNIT_UNCONFIRMED):
        return answer
    return state
