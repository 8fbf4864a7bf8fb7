"""Every GraphQL document letzdesk sends is valid against schema.graphql and asks for the right fields."""

from __future__ import annotations

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate
from graphql.language import FieldNode, OperationDefinitionNode, visit
from graphql.language.visitor import Visitor

from letzdesk.letzshop import documents


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(documents.schema_text())


def _errors(schema: GraphQLSchema, text: str) -> list[str]:
    """Validation messages, with graphql-core's quotes (single in 3.3, double in 3.2) made double."""
    return [error.message.replace("'", '"') for error in validate(schema, parse(text))]


class _FieldPaths(Visitor):
    """Collects the dotted path of every field selection, e.g. ``shipments.nodes.order.total``."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.paths: list[str] = []

    def enter_field(self, node: FieldNode, *_args) -> None:
        self.stack.append(node.name.value)
        self.paths.append(".".join(self.stack))

    def leave_field(self, *_args) -> None:
        self.stack.pop()


def _field_paths(text: str) -> set[str]:
    collector = _FieldPaths()
    visit(parse(text), collector)
    return set(collector.paths)


# The field tree of the fact sheet's §2.1 query, the one orion ran against the live API.
_ADDRESS = [
    "firstName",
    "lastName",
    "company",
    "streetName",
    "streetNumber",
    "city",
    "zipCode",
    "phone",
    "country.name",
    "country.iso",
]
FACT_SHEET_PATHS = {
    "shipments.nodes." + leaf
    for leaf in [
        "id",
        "number",
        "state",
        "order.id",
        "order.number",
        "order.email",
        "order.total",
        "order.completedAt",
        "order.locale",
        *(f"order.shipAddress.{f}" for f in _ADDRESS),
        *(f"order.billAddress.{f}" for f in _ADDRESS),
        "inventoryUnits.id",
        "inventoryUnits.state",
        "inventoryUnits.variant.id",
        "inventoryUnits.variant.sku",
        "inventoryUnits.variant.mpn",
        "inventoryUnits.variant.price",
        "inventoryUnits.variant.tradeId.number",
        "inventoryUnits.variant.tradeId.parser",
        "inventoryUnits.variant.product.name.en",
        "inventoryUnits.variant.product.name.fr",
        "inventoryUnits.variant.product.name.de",
        "inventoryUnits.variant.product._brand.name",
        "tracking.code",
        "tracking.provider",
    ]
}


def test_documents_folder_holds_the_shipments_document():
    assert "shipments" in documents.names()


@pytest.mark.parametrize("name", documents.names())
def test_document_parses_and_validates_against_schema(schema, name):
    assert _errors(schema, documents.load(name)) == []


@pytest.mark.parametrize("name", documents.names())
def test_document_has_exactly_one_named_operation(name):
    operations = [d for d in parse(documents.load(name)).definitions if isinstance(d, OperationDefinitionNode)]
    assert len(operations) == 1
    assert operations[0].name is not None


def test_validation_rejects_a_field_the_schema_lacks(schema):
    errors = _errors(schema, "query Q { shipments(state: unconfirmed) { nodes { id foo } } }")
    assert any('Cannot query field "foo" on type "Shipment"' in message for message in errors)


def test_validation_rejects_merchant_on_address(schema):
    bad = documents.load("shipments").replace("company", "merchant")
    assert any('"merchant"' in message for message in _errors(schema, bad))


def test_validation_rejects_declined_as_a_shipment_state(schema):
    errors = _errors(schema, "query Q { shipments(state: declined) { nodes { id } } }")
    assert errors


def test_shipments_document_is_the_shipments_operation_with_paging_variables():
    (operation,) = parse(documents.load("shipments")).definitions
    assert operation.name.value == "Shipments"
    variables = {v.variable.name.value for v in operation.variable_definitions}
    assert variables == {"state", "first", "after"}


def test_shipments_document_selects_company_not_merchant():
    paths = _field_paths(documents.load("shipments"))
    assert "shipments.nodes.order.shipAddress.company" in paths
    assert "shipments.nodes.order.billAddress.company" in paths
    assert not [p for p in paths if "merchant" in p.lower()]


def test_shipments_document_asks_for_page_info_cursor():
    paths = _field_paths(documents.load("shipments"))
    assert {"shipments.pageInfo.hasNextPage", "shipments.pageInfo.endCursor"} <= paths


def test_shipments_document_does_not_ask_for_a_currency():
    paths = _field_paths(documents.load("shipments"))
    assert not [p for p in paths if "currency" in p.lower()]


def test_shipments_document_covers_the_fact_sheet_field_tree():
    missing = FACT_SHEET_PATHS - _field_paths(documents.load("shipments"))
    assert missing == set()


def test_shipments_document_reads_brand_through_an_inline_fragment_on_brand():
    text = documents.load("shipments")
    compact = " ".join(text.split())
    assert "_brand { ... on Brand { name } }" in compact
