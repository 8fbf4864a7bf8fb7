"""Typed failures of the Letzshop API.

Callers decide what to do from the class alone: retry later (``TransientError`` and
``RateLimitedError``), stop and tell the vendor (``AuthError``), show Letzshop's own words
(``RejectedError``), or suspect that our documents no longer match the live schema
(``SchemaDriftError``). Messages never contain the API key or a full response body.
"""

from __future__ import annotations

from dataclasses import dataclass


class LetzshopError(Exception):
    """Base class: something went wrong talking to Letzshop."""

    #: Words a vendor understands; the exception's str() keeps the technical detail.
    user_message = "Letzshop could not be reached."
    #: Whether the same call may succeed if tried again later.
    retryable = False


class AuthError(LetzshopError):
    user_message = "Letzshop refused the API key. Check the key or ask Letzshop for a new one."


class RateLimitedError(LetzshopError):
    user_message = "Letzshop asked letzdesk to slow down; try again in a few minutes."
    retryable = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        #: Seconds Letzshop asked us to wait, when it said so.
        self.retry_after = retry_after


class TransientError(LetzshopError):
    """5xx, timeouts, dropped connections: the same request may work later."""

    user_message = "Letzshop did not answer in time or is having trouble."
    retryable = True

    def __init__(self, message: str, *, sent: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        #: True when the request may have reached Letzshop (the outcome is unknown).
        self.sent = sent
        #: The HTTP status of a 5xx answer (None for timeouts and connection errors).
        self.status = status
        if not sent:
            self.user_message = "Cannot reach Letzshop: check the network connection and the endpoint address."

    @property
    def unavailable(self) -> bool:
        """Letzshop or its gateway said it is down for now (502, 503, 504), not that the request was bad."""
        return self.status in (502, 503, 504)


class MalformedResponseError(LetzshopError):
    user_message = "Letzshop sent an answer letzdesk cannot read."


@dataclass(frozen=True)
class GraphQLErrorDetail:
    message: str
    path: tuple[str | int, ...] = ()
    code: str | None = None


class GraphQLResponseError(LetzshopError):
    """An ``errors`` array in an HTTP 200. ``data`` keeps whatever partial result came with it."""

    user_message = "Letzshop reported an error for this request."

    def __init__(self, errors: list[GraphQLErrorDetail], data: dict | None = None) -> None:
        first = errors[0].message if errors else "unknown error"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"GraphQL error: {first}{more}")
        self.errors = errors
        self.data = data


class SchemaDriftError(GraphQLResponseError):
    """Letzshop rejected our document itself: a field, argument or type we rely on changed."""

    user_message = "Letzshop's API has changed in a way this version of letzdesk does not understand."


class RejectedError(LetzshopError):
    """A business refusal (for example confirming a unit that is already declined)."""

    user_message = "Letzshop refused this answer."
