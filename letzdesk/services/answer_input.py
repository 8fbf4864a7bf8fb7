"""What the vendor types with an answer: tracking numbers, carriers and decline reasons.

Shared by the answer service, which refuses what does not fit, and the answer dialogs, which
tidy the text as it is typed; both must apply the same rules.
"""

from __future__ import annotations

import re
import string

_TRACKING = re.compile(r"^[A-Z0-9][A-Z0-9./_-]{2,59}$")
_CARRIER = re.compile(r"^\w[\w .&'/-]{0,49}$")
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)

#: Longest decline reason kept with an order.
MAX_REASON = 1000


def normalise_tracking(number: str) -> str:
    """Spaces removed, upper case: "lu 123 456" -> "LU123456".

    Only a-z are upper-cased: str.upper() turns "ß" into "SS" and "ı" into "I", a number nobody
    typed that would then pass as ASCII; left as they are, ``tracking_problem`` refuses them.
    """
    return re.sub(r"\s+", "", number or "").translate(_ASCII_UPPER)


def tracking_problem(number: str) -> str | None:
    """Why a tracking number cannot be used (before or after normalising), or None when it can."""
    code = normalise_tracking(number)
    if code.isascii() and _TRACKING.match(code):
        return None
    return "A tracking number is 3 to 60 letters and digits (- . / _ allowed); spaces are removed."


def carrier_problem(carrier: str) -> str | None:
    """Why a carrier's name cannot be used, or None when it can."""
    if _CARRIER.match(carrier):
        return None
    return "A carrier is 1 to 50 letters, digits, spaces or . & ' / - _ characters."


def clean_reason(reason: str | None) -> str:
    """One line of plain text: control characters (line breaks, terminal escapes) become spaces."""
    return " ".join("".join(c if c.isprintable() else " " for c in reason or "").split())
