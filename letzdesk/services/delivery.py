"""One claimed task on its way to Letzshop: read back if needed, send, and say how it ended.

Nothing here touches the database: the worker claims a task, hands it to ``Delivery.run`` and
records the ``Outcome`` in one transaction. Whether a failure counts as an attempt, waits, or
needs a read-back before the next send is decided here, from the error's type alone.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..letzshop.client import LetzshopClient
from ..letzshop.errors import (
    AuthError,
    GraphQLResponseError,
    LetzshopError,
    MalformedResponseError,
    RateLimitedError,
    SchemaDriftError,
    TransientError,
)
from ..letzshop.records import MutationProblem, Shipment
from .outbox import DONE, FAILED, PENDING, TARGET, TRACKING

logger = logging.getLogger(__name__)


@dataclass
class Backoff:
    """Delays between tries of one task: exponential with full jitter, Retry-After honoured."""

    base: float = 30.0
    cap: float = 900.0
    #: The longest Retry-After obeyed; the queue is durable, so it may wait longer than a page read.
    retry_after_cap: float = 900.0
    #: The shortest wait, whatever jitter or a ``Retry-After: 0`` says: never a tight loop.
    min_wait: float = 1.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, tries: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return max(min(retry_after, self.retry_after_cap), self.min_wait)
        return max(self.rng.uniform(0, min(self.cap, self.base * 2 ** max(tries - 1, 0))), self.min_wait)


@dataclass(frozen=True)
class Claim:
    """A claimed task, copied out of its session."""

    id: int
    vendor_id: int
    order_pk: int
    shipment_id: str
    shipment_number: str | None
    operation: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    waits: int
    verify: bool
    #: Item id -> product name, to say which item Letzshop refused.
    names: dict[str, str] = field(default_factory=dict)
    last_error: str | None = None


@dataclass
class Outcome:
    """How a claimed task ends this round; applied in one transaction by ``_finish``."""

    status: str
    sent: bool = False
    verify: bool = False
    delay: float = 0.0
    error: str | None = None
    response: dict[str, Any] | None = None
    unit_states: dict[str, str | None] = field(default_factory=dict)
    shipment_state: str | None = None
    remote_tracking: tuple[str | None, str | None] | None = None
    #: Stop sending for this vendor for now (rate limit, no network, key refused).
    pause: bool = False


class Delivery:
    def __init__(self, backoff: Backoff | None = None) -> None:
        self.backoff = backoff or Backoff()

    async def run(self, client: LetzshopClient, claim: Claim) -> Outcome:
        """Read back first when the last send's outcome is unknown, then send; never raises a LetzshopError."""
        sent = False
        try:
            if claim.verify:
                outcome = await self._verify(client, claim)
                if outcome is not None:
                    return outcome
            if claim.attempts >= claim.max_attempts:
                last = f" The last one: {claim.last_error}" if claim.last_error else ""
                return Outcome(FAILED, error=f"Gave up after {claim.attempts} attempts.{last}")
            sent = True
            if claim.operation == TRACKING:
                return await self._send_tracking(client, claim)
            return await self._send_answer(client, claim)
        except AuthError as exc:
            # A refused key is the vendor's to fix, not Letzshop's answer: a wait, never an attempt.
            return self._later(claim, exc, sent=False, pause=True)
        except RateLimitedError as exc:
            # The queue waits by itself; the error's own advice ("try again later") is for a person.
            words = "Letzshop asked letzdesk to slow down."
            return self._later(claim, words, sent=False, pause=True, retry_after=exc.retry_after)
        except TransientError as exc:
            # Not sent at all (no connection): a wait, not an attempt, and the vendor pauses.
            if not exc.sent:
                return self._later(claim, exc, sent=False, pause=True)
            if exc.unavailable:
                # Down for now (maintenance, an overloaded gateway): like a 429, a wait and not an
                # attempt, so an outage never fails an answer; still read back before sending again.
                return self._later(claim, exc, sent=False, verify=sent)
            return self._later(claim, exc, sent=sent, verify=True)
        except MalformedResponseError as exc:
            return self._later(claim, exc, sent=sent, verify=sent)
        except SchemaDriftError as exc:
            if not sent:
                return self._later(claim, exc, sent=False, pause=True)
            # Letzshop rejected the document itself, so nothing was applied.
            return Outcome(FAILED, sent=True, error=f"{exc.user_message} {exc.errors[0].message}")
        except GraphQLResponseError as exc:
            if not sent:  # the read-back itself was refused; the answer may still be fine
                return self._later(claim, exc, sent=False, pause=True)
            # An error beside (or instead of) the payload: Letzshop may still have applied it.
            problems = [MutationProblem(detail.message, detail.code) for detail in exc.errors]
            return await self._settle(client, claim, {"errors": [p.message for p in problems]}, problems)
        except Exception as exc:
            logger.exception("Task %d crashed", claim.id)
            return self._later(claim, exc, sent=sent, verify=True, pause=True)

    def _later(
        self,
        claim: Claim,
        exc: BaseException | str,
        *,
        sent: bool,
        verify: bool = False,
        pause: bool = False,
        retry_after: float | None = None,
    ) -> Outcome:
        tries = claim.attempts + claim.waits + 1
        delay = self.backoff.delay(tries, retry_after)
        words = exc if isinstance(exc, str) else getattr(exc, "user_message", None)
        words = words or "An unexpected error happened."
        logger.info("Task %d (%s) will be retried in %.1f s: %s", claim.id, claim.operation, delay, exc)
        return Outcome(PENDING, sent=sent, verify=verify or claim.verify, delay=delay, error=words, pause=pause)

    async def _verify(self, client: LetzshopClient, claim: Claim) -> Outcome | None:
        """Read the shipment back; an outcome if the answer is already there (or can never be)."""
        shipment = await client.find_shipment(claim.shipment_id)
        if shipment is None:
            return None
        states = unit_states(shipment)
        if claim.operation == TRACKING:
            wanted = (claim.payload["code"], claim.payload["carrier"])
            if (shipment.tracking_code, shipment.tracking_provider) == wanted:
                logger.info("Task %d: tracking already on Letzshop; not sent again", claim.id)
                return Outcome(DONE, response={"read_back": True}, unit_states=states, shipment_state=shipment.state)
            return None
        target = TARGET[claim.operation]
        units = claim.payload.get("units", [])
        if all(states.get(unit) == target for unit in units):
            logger.info("Task %d: answer already on Letzshop; not sent again", claim.id)
            return Outcome(DONE, response={"read_back": True}, unit_states=states, shipment_state=shipment.state)
        other = [u for u in units if states.get(u) not in (None, "unconfirmed", target)]
        if other:
            return Outcome(
                FAILED,
                error=f"Letzshop already has another answer for {len(other)} item(s).",
                unit_states=states,
                shipment_state=shipment.state,
            )
        return None

    async def _send_answer(self, client: LetzshopClient, claim: Claim) -> Outcome:
        target = TARGET[claim.operation]
        units = claim.payload.get("units", [])
        result = await client.answer_units({unit: target == "confirmed_available" for unit in units})
        response = {
            "states": result.states,
            "errors": [{"id": p.id, "code": p.code, "message": p.message} for p in result.problems],
        }
        if all(result.states.get(unit) == target for unit in units):
            return Outcome(DONE, sent=True, response=response, unit_states=result.states)
        # A refusal, or a reply that does not show the items answered: Letzshop decides.
        return await self._settle(client, claim, response, result.problems)

    async def _send_tracking(self, client: LetzshopClient, claim: Claim) -> Outcome:
        wanted = (claim.payload["code"], claim.payload["carrier"])
        result = await client.set_tracking(claim.shipment_id, *wanted)
        response = {
            "state": result.shipment_state,
            "tracking": {"code": result.code, "provider": result.provider},
            "errors": [{"code": p.code, "message": p.message} for p in result.problems],
        }
        if not result.problems and result.code is None:
            # No refusal and no tracking in the reply. Letzshop's read-back of tracking is known
            # to be unreliable (fact sheet §3.2), so a read-back could not settle it either:
            # the call is taken as accepted, and our number stays the truth.
            logger.warning("Task %d: Letzshop accepted the tracking without echoing it", claim.id)
            return Outcome(DONE, sent=True, response=response, shipment_state=result.shipment_state)
        if not result.problems and (result.code, result.provider) == wanted:
            return Outcome(
                DONE, sent=True, response=response, shipment_state=result.shipment_state, remote_tracking=wanted
            )
        return await self._settle(client, claim, response, result.problems)

    async def _settle(
        self, client: LetzshopClient, claim: Claim, response: dict[str, Any], problems: Iterable[MutationProblem]
    ) -> Outcome:
        """After a send whose reply does not show the answer taken, read the shipment back.

        Already there: done (a server that refuses repeats, or errors beside applied data).
        Refused: failed with Letzshop's words. Neither: the outcome is unknown, so try again
        later, reading back first.
        """
        problems = list(problems)
        shipment = await self._read_back_quietly(client, claim)
        states = unit_states(shipment) if shipment is not None else {}
        if shipment is not None and self._answer_there(claim, shipment):
            logger.info("Task %d: the reply did not show it, but Letzshop has the answer", claim.id)
            return Outcome(DONE, sent=True, response=response, unit_states=states, shipment_state=shipment.state)
        if problems:
            message = refusal_message(problems, {**claim.names, claim.shipment_id: claim.shipment_number or ""})
            return Outcome(FAILED, sent=True, error=message, response=response, unit_states=states)
        return self._later(
            claim,
            "Letzshop's reply did not show the answer taken; letzdesk checks with Letzshop before sending again.",
            sent=True,
            verify=True,
        )

    @staticmethod
    def _answer_there(claim: Claim, shipment: Shipment) -> bool:
        if claim.operation == TRACKING:
            return (shipment.tracking_code, shipment.tracking_provider) == (
                claim.payload["code"],
                claim.payload["carrier"],
            )
        target = TARGET[claim.operation]
        return all(state_of(shipment, unit) == target for unit in claim.payload.get("units", []))

    @staticmethod
    async def _read_back_quietly(client: LetzshopClient, claim: Claim) -> Shipment | None:
        try:
            return await client.find_shipment(claim.shipment_id)
        except LetzshopError as exc:
            logger.info("Task %d: could not read the shipment back (%s)", claim.id, exc)
            return None


def unit_states(shipment: Shipment) -> dict[str, str | None]:
    return {unit.id: unit.state for unit in shipment.units}


def state_of(shipment: Shipment, unit_id: str) -> str | None:
    return next((unit.state for unit in shipment.units if unit.id == unit_id), None)


#: Letzshop's unit state codes as a vendor says them (longest first: one contains another).
_STATE_WORDS = {"confirmed_unavailable": "declined", "confirmed_available": "confirmed", "unconfirmed": "open"}


def refusal_message(problems: Iterable[MutationProblem], names: dict[str, str]) -> str:
    """Letzshop's words, with its opaque ids replaced by the names the vendor knows and its
    state codes by words."""
    sentences = []
    for problem in problems:
        text = problem.message.strip()
        for item_id, name in names.items():
            if name:
                text = text.replace(item_id, f"“{name}”")
        for code, words in _STATE_WORDS.items():
            text = text.replace(code, words)
        sentences.append(text if text.endswith((".", "!", "?")) else text + ".")
    return " ".join(sentences)
