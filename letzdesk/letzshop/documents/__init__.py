"""Every GraphQL document letzdesk sends, one ``.graphql`` file per operation.

Keeping them here makes a correction of Letzshop's shapes a one-file change, and lets the
tests validate each of them against ``schema.graphql``.
"""

from __future__ import annotations

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
