"""Validate our GraphQL documents against the schema a server reports, naming each mismatch.

Letzshop's exact shapes are partly reconstructed; this check turns a silent mismatch into a
list a vendor (and a developer) can read, before any answer is sent.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, GraphQLSchema, build_client_schema, build_schema, parse, validate

from . import documents


def schema_from_introspection(data: dict[str, Any]) -> GraphQLSchema:
    """The server's schema from an introspection result; raises ValueError if unusable."""
    try:
        return build_client_schema(data)  # type: ignore[arg-type]
    except (TypeError, KeyError, GraphQLError, AttributeError) as exc:
        raise ValueError(f"the introspection result cannot be read: {exc}") from None


def local_schema() -> GraphQLSchema:
    return build_schema(documents.schema_text())


def drift(schema: GraphQLSchema, names: list[str] | None = None) -> list[str]:
    """One line per mismatch: "<operation>: <what graphql-core says>"."""
    problems: list[str] = []
    for name in names or documents.names():
        if name == "introspection":
            continue
        document = parse(documents.load(name))
        operation = next((d.name.value for d in document.definitions if getattr(d, "name", None)), name)
        errors = validate(schema, document)
        if errors and name == "shipments" and _another_form_fits(schema):
            continue  # the client falls back to that form, so imports still work
        problems += [f"{operation}: {error.message}" for error in errors]
    return problems


def _another_form_fits(schema: GraphQLSchema) -> bool:
    return any(not validate(schema, parse(documents.shipments(form))) for form in documents.SHIPMENT_FORMS[1:])
