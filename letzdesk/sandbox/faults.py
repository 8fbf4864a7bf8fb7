"""Bad days on purpose: slow calls, refusals, failures and answers cut off halfway.

The app has to survive what a busy marketplace does: a 429 with ``Retry-After``, a 503, and the
hardest one, a connection that dies after the server has applied the request, so the client cannot
know whether its answer landed. ``Faults`` says how often each happens; ``FaultInjection`` is the
ASGI middleware that makes it happen around the GraphQL app. Every decision comes from the
``Faults`` object's own seeded ``random.Random``, so a failing run can be replayed call for call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

#: What a call can suffer, in the fixed order the weighted pick walks (spec order never matters):
#: a 429, a 503 ("5xx": down for now), a call applied and then cut off, a 500 (an error on a
#: request the server could not handle, which counts as an attempt).
KINDS = ("429", "5xx", "drop", "500")
#: The kinds a fault rate picks from when none are named.
DEFAULT_KINDS = ("429", "5xx", "drop")
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")


class InjectedDrop(Exception):
    """Raised after a response was cut short on purpose, so the server closes the connection."""


@dataclass
class Faults:
    """How the sandbox misbehaves; assign a new one to ``SandboxState.faults`` to change it at runtime.

    ``latency`` is seconds added to every call the faults apply to, or a (min, max) range drawn per
    call. ``rate`` is the fraction of those calls that fail, with the kind picked by ``kinds``
    weights. ``operations`` limits all of it to these GraphQL operation names (None: every call).
    """

    rate: float = 0.0
    kinds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DEFAULT_KINDS, 1.0))
    latency: float | tuple[float, float] = 0.0
    retry_after: str = "1"
    operations: frozenset[str] | None = None
    seed: int = 0
    # _lock guards the random stream and the counters: calls draw on the server's loop thread
    # while tests and the CLI read the counters from theirs.
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _calls: int = field(default=0, init=False, repr=False, compare=False)
    _injected: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:  # also refuses NaN
            raise ValueError(f"rate must be between 0 and 1, got {self.rate}")
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown fault kind {unknown[0]!r} (known: {', '.join(KINDS)})")
        if any(not math.isfinite(weight) or weight < 0 for weight in self.kinds.values()):
            raise ValueError("fault kind weights must be finite and not negative")
        if self.rate > 0 and sum(self.kinds.values()) <= 0:
            raise ValueError("a fault rate above 0 needs at least one kind with a weight above 0")
        low, high = self.latency_range
        if not (math.isfinite(low) and math.isfinite(high) and 0 <= low <= high):
            raise ValueError(f"latency must be seconds >= 0, a range low-high with low <= high; got {self.latency}")
        if isinstance(self.operations, str):
            raise TypeError("operations must be a set of operation names, not one string")
        if self.operations is not None:
            self.operations = frozenset(self.operations)

        self._rng = random.Random(self.seed)
        # Every usual kind is counted (zero included), and a 500 once it may be picked.
        self._injected = dict.fromkeys((k for k in KINDS if k in DEFAULT_KINDS or k in self.kinds), 0)

    @property
    def latency_range(self) -> tuple[float, float]:
        if isinstance(self.latency, tuple | list):
            low, high = self.latency
            return low, high
        return self.latency, self.latency

    def draw(self, operation: str | None) -> tuple[float, str | None] | None:
        """The delay and the fault (or None) for one call; None when the faults do not apply to it.

        Every call they apply to takes exactly three numbers from the stream, whatever the settings,
        so the same seed gives the same sequence of outcomes even after latency or kinds change.
        """
        if self.operations is not None and operation not in self.operations:
            return None

        with self._lock:
            roll, pick, lag = self._rng.random(), self._rng.random(), self._rng.random()
            kind = self._pick(pick) if roll < self.rate else None
            self._calls += 1
            if kind is not None:
                self._injected[kind] += 1

        low, high = self.latency_range
        return low + lag * (high - low), kind

    def _pick(self, pick: float) -> str:
        total = sum(self.kinds.get(kind, 0.0) for kind in KINDS)
        threshold = pick * total
        for kind in KINDS:
            threshold -= self.kinds.get(kind, 0.0)
            if threshold < 0:
                return kind
        return next(kind for kind in reversed(KINDS) if self.kinds.get(kind, 0.0) > 0)  # rounding at the top

    def counts(self) -> dict[str, int]:
        """Faults injected so far, per kind (the usual kinds and any named, zero included)."""
        with self._lock:
            return dict(self._injected)

    def calls(self) -> int:
        """Calls the faults applied to so far, failed or not."""
        with self._lock:
            return self._calls

    def describe(self) -> str:
        """One line for the sandbox banner."""
        weights = " ".join(f"{kind}:{self.kinds[kind]:g}" for kind in KINDS if self.kinds.get(kind))
        low, high = self.latency_range
        parts = [f"{self.rate:.0%} of calls fail" + (f" ({weights})" if self.rate and weights else "")]
        if high:
            parts.append(f"latency {low:g} s" if low == high else f"latency {low:g}-{high:g} s")
        if self.operations is not None:
            parts.append("only " + "+".join(sorted(self.operations)))
        parts.append(f"seed {self.seed}")
        return ", ".join(parts)


# --- the compact spec the command line takes ---------------------------------------------------------


def _number(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{key} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{key} must be a finite number, got {text!r}")
    return value


def _kinds(text: str) -> dict[str, float]:
    """``429:1+5xx:2+drop`` (a missing weight is 1)."""
    kinds: dict[str, float] = {}
    for item in text.split("+"):
        name, has_weight, weight = item.strip().partition(":")
        if name not in KINDS:
            raise ValueError(f"unknown fault kind {name!r} (known: {', '.join(KINDS)})")
        if name in kinds:
            raise ValueError(f"fault kind {name!r} given twice")
        kinds[name] = _number(f"the weight of {name}", weight) if has_weight else 1.0
    return kinds


def _latency(text: str) -> float | tuple[float, float]:
    """``0.05`` or ``0.05-0.2`` seconds."""
    low, is_range, high = text.partition("-")
    if is_range and not low.strip():
        raise ValueError(f"latency must be seconds >= 0 or a range low-high, got {text!r}")
    if is_range:
        return _number("latency", low), _number("latency", high)
    return _number("latency", text)


def _retry_after(text: str) -> str:
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"retry_after must be whole seconds, got {text!r}")
    return text


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"seed must be a whole number, got {text!r}") from None


def _operations(text: str) -> frozenset[str]:
    """``ConfirmInventoryUnits+SetShipmentTracking``."""
    names = [name.strip() for name in text.split("+")]
    for name in names:
        if not _NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a GraphQL operation name")
    return frozenset(names)


_SPEC: dict[str, Callable[[str], Any]] = {
    "rate": lambda text: _number("rate", text),
    "kinds": _kinds,
    "latency": _latency,
    "retry_after": _retry_after,
    "seed": _seed,
    "operations": _operations,
}


def parse_faults(text: str) -> Faults:
    """Read ``rate=0.33,kinds=429:1+5xx:1+drop:1,latency=0.05-0.2,retry_after=1,seed=3``.

    Keys may come in any order and all are optional; ``operations=A+B`` limits the faults to those
    operations. Any mistake raises ValueError with a message fit to show on the command line.
    """
    settings: dict[str, Any] = {}
    try:
        for part in text.split(","):
            key, has_value, value = (piece.strip() for piece in part.partition("="))
            if not key and not value:
                continue  # tolerate "rate=0.1," and surrounding blanks
            if not has_value or not value:
                raise ValueError(f"expected key=value, got {part.strip()!r}")
            if key not in _SPEC:
                raise ValueError(f"unknown key {key!r} (known: {', '.join(_SPEC)})")
            if key in settings:
                raise ValueError(f"{key!r} given twice")
            settings[key] = _SPEC[key](value)
        if not settings:
            raise ValueError("nothing given; example: rate=0.3,kinds=429+5xx+drop")
        return Faults(**settings)
    except ValueError as exc:
        raise ValueError(f"fault spec {text!r}: {exc}") from None


# --- the middleware ------------------------------------------------------------------------------------


class _HasFaults(Protocol):
    faults: Faults | None


class FaultInjection:
    """Delay, refuse or cut calls as ``state.faults`` says, read afresh on every call.

    The request body is read whole so the operation name can be peeked, then handed on to the app
    unchanged. A 429, 503 or 500 answers without running the app, so nothing is applied; a drop runs
    the app (the call is applied) and then cuts the answer short, as a proxy dying mid-reply would.
    """

    def __init__(self, app: ASGIApp, state: _HasFaults) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        faults = self.state.faults
        # Only GraphQL calls misbehave: the sandbox's record (``/sandbox/record``) is for checking them.
        if faults is None or scope["type"] != "http" or scope.get("path") != "/graphql":
            await self.app(scope, receive, send)
            return

        body = await _read_body(receive)
        replay = _replay(body, receive)
        operation = _operation_name(body)
        decision = faults.draw(operation)
        if decision is None:
            await self.app(scope, replay, send)
            return

        delay, kind = decision
        if delay > 0:
            await asyncio.sleep(delay)
        if kind is None:
            await self.app(scope, replay, send)
            return

        logger.info("Injecting a %s fault into %s", kind, operation or "an unnamed call")
        if kind == "429":
            headers = {"Retry-After": faults.retry_after}
            response = JSONResponse(_error_body("Too many requests (sandbox fault)"), status_code=429, headers=headers)
            await response(scope, replay, send)
        elif kind == "5xx":
            response = JSONResponse(_error_body("Service unavailable (sandbox fault)"), status_code=503)
            await response(scope, replay, send)
        elif kind == "500":
            response = JSONResponse(_error_body("Internal server error (sandbox fault)"), status_code=500)
            await response(scope, replay, send)
        else:
            await self._drop(scope, replay, send)

    async def _drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Apply the call, then send the headers and half the body and give up.

        The headers promise the whole body (Content-Length), so the client sees a connection closed
        before the message ended: httpx raises RemoteProtocolError. Raising InjectedDrop makes
        uvicorn close the connection; ``QuietDrops`` keeps that out of its error log.
        """
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)

        start = next(message for message in messages if message["type"] == "http.response.start")
        body = b"".join(message.get("body", b"") for message in messages if message["type"] == "http.response.body")
        headers = [(name, value) for name, value in start.get("headers", []) if name.lower() != b"content-length"]
        headers.append((b"content-length", str(max(len(body), 1)).encode("ascii")))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        raise InjectedDrop(f"dropped after {len(body) // 2} of {len(body)} bytes")


class QuietDrops(logging.Filter):
    """Hide uvicorn's "Exception in ASGI application" for an injected drop; real errors still show.

    Attach it to the ``uvicorn.error`` logger while a sandbox runs (``SandboxServer`` does).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, InjectedDrop)


async def _read_body(receive: Receive) -> bytes:
    """The whole request body; a client that disconnects midway leaves what arrived."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the app the body read already, then whatever the server says next."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _operation_name(body: bytes) -> str | None:
    """``operationName`` of a JSON request body; None for anything else (faults with ``operations`` skip it)."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    name = payload.get("operationName") if isinstance(payload, dict) else None
    return name if isinstance(name, str) else None


def _error_body(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message}]}
