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
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, tries: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        return self.rng.uniform(0, min(self.cap, self.base * 2 ** max(tries - 1, 0)))


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
            return self._later(claim, exc, sent=sent, pause=True)
        except RateLimitedError as exc:
            return self._later(claim, exc, sent=False, pause=True, retry_after=exc.retry_after)
        except TransientError as exc:
            # Not sent at all (no connection): a wait, not an attempt, and the vendor pauses.
            if not exc.sent:
                return self._later(claim, exc, sent=False, pause=True)
            return self._later(claim, exc, sent=sent, verify=True)
        except MalformedResponseError as exc:
            return self._later(claim, exc, sent=sent, verify=sent)
        except GraphQLResponseError as exc:
            if not sent:  # the read-back itself was refused; the answer may still be fine
                return self._later(claim, exc, sent=False, pause=True)
            return Outcome(FAILED, sent=True, error=f"{exc.user_message} ({exc})")
        except Exception as exc:
            logger.exception("Task %d crashed", claim.id)
            return self._later(claim, exc, sent=sent, verify=True, pause=True)

    def _later(
        self,
        claim: Claim,
        exc: BaseException,
        *,
        sent: bool,
        verify: bool = False,
        pause: bool = False,
        retry_after: float | None = None,
    ) -> Outcome:
        tries = claim.attempts + claim.waits + 1
        delay = self.backoff.delay(tries, retry_after)
        words = getattr(exc, "user_message", None) or "An unexpected error happened."
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
        states = {unit: result.states.get(unit, target if not result.problems else None) for unit in units}
        response = {
            "states": result.states,
            "errors": [{"id": p.id, "code": p.code, "message": p.message} for p in result.problems],
        }
        reached = [unit for unit in units if states[unit] == target]
        if len(reached) == len(units):
            return Outcome(DONE, sent=True, response=response, unit_states=states)
        if result.problems:
            # A server that refuses a repeat may not say where the items stand: look before failing.
            shipment = await self._read_back_quietly(client, claim)
            if shipment is not None and all(state_of(shipment, unit) == target for unit in units):
                logger.info("Task %d: refused, but Letzshop already has the answer", claim.id)
                return Outcome(DONE, sent=True, response=response, unit_states=unit_states(shipment))
        message = refusal_message(result.problems, claim.names) or "Letzshop did not take the answer for every item."
        return Outcome(FAILED, sent=True, error=message, response=response, unit_states=states)

    @staticmethod
    async def _read_back_quietly(client: LetzshopClient, claim: Claim) -> Shipment | None:
        try:
            return await client.find_shipment(claim.shipment_id)
        except LetzshopError as exc:
            logger.info("Task %d: could not read the shipment back (%s)", claim.id, exc)
            return None

    async def _send_tracking(self, client: LetzshopClient, claim: Claim) -> Outcome:
        result = await client.set_tracking(claim.shipment_id, claim.payload["code"], claim.payload["carrier"])
        response = {
            "state": result.shipment_state,
            "tracking": {"code": result.code, "provider": result.provider},
            "errors": [{"code": p.code, "message": p.message} for p in result.problems],
        }
        if result.problems:
            return Outcome(FAILED, sent=True, error=refusal_message(result.problems, claim.names), response=response)
        return Outcome(
            DONE,
            sent=True,
            response=response,
            shipment_state=result.shipment_state,
            remote_tracking=(result.code, result.provider),
        )

    # -- recording the outcome ----------------------------------------------------------------


def unit_states(shipment: Shipment) -> dict[str, str | None]:
    return {unit.id: unit.state for unit in shipment.units}


def state_of(shipment: Shipment, unit_id: str) -> str | None:
    return next((unit.state for unit in shipment.units if unit.id == unit_id), None)


def refusal_message(problems: Iterable[MutationProblem], names: dict[str, str]) -> str:
    """Letzshop's words, with its opaque item ids replaced by the product names the vendor knows."""
    sentences = []
    for problem in problems:
        text = problem.message.strip()
        for unit_id, name in names.items():
            text = text.replace(unit_id, f"“{name}”")
        sentences.append(text if text.endswith((".", "!", "?")) else text + ".")
    return " ".join(sentences)
