"""Every GraphQL document letzdesk sends, one ``.graphql`` file per operation.

Keeping them here makes a correction of Letzshop's shapes a one-file change, and lets the
tests validate each of them against ``schema.graphql``.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources


@cache
def load(name: str) -> str:
    """The text of ``documents/<name>.graphql``."""
    return (resources.files(__package__) / f"{name}.graphql").read_text(encoding="utf-8")


def names() -> list[str]:
    return sorted(
        p.name.removesuffix(".graphql") for p in resources.files(__package__).iterdir() if p.name.endswith(".graphql")
    )


def schema_text() -> str:
    return (resources.files("letzdesk.letzshop") / "schema.graphql").read_text(encoding="utf-8")


#: Forms of the shipments query, most exact first. Only the field tree of the unpaged form was
#: seen running against Letzshop; the variable's enum type name and the paging arguments are
#: reconstructions. A server that rejects one form gets the next (see LetzshopClient).
SHIPMENT_FORMS = ("variable", "literal", "unpaged")
_STATE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def shipments(form: str = "variable", state: str = "unconfirmed") -> str:
    """The shipments document in one of SHIPMENT_FORMS; ``state`` is inlined for the last two."""
    text = load("shipments")
    if form == "variable":
        return text
    if not _STATE.match(state):
        raise ValueError(f"not a shipment state: {state!r}")
    text = text.replace(
        "query Shipments($state: ShipmentStateEnum, $first: Int, $after: String)",
        "query Shipments($first: Int, $after: String)",
    )
    text = text.replace(
        "shipments(state: $state, first: $first, after: $after)",
        f"shipments(state: {state}, first: $first, after: $after)",
    )
    if form == "literal":
        return text
    text = text.replace("query Shipments($first: Int, $after: String)", "query Shipments")
    text = text.replace(f"shipments(state: {state}, first: $first, after: $after)", f"shipments(state: {state})")
    return re.sub(r"\n\s*pageInfo \{[^}]*\}", "", text, count=1)
