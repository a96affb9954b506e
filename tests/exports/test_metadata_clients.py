"""Every ``$metadata`` Qingling serves, read by two OData libraries that are not ours.

The OASIS CSDL XML schemas (edm.xsd, edmx.xsd) cannot be fetched here and no package ships them, so the
EDMX documents are checked by independent readers instead: python-odata, an OData v4 client, reflects
the service over HTTP as an analyst's script would (entity sets, properties and their Python types,
navigation); odatapy's CSDL reader (a port of Apache Olingo's) builds the full model, and every type a
property, a set, a key or a navigation names must resolve in it. A dangling name, a set without its
type or a navigation binding to nothing fails here.
"""

from __future__ import annotations

import re

import pytest
from lxml import etree
from odata import ODataService
from odata.property import IntegerProperty, NavigationProperty, StringProperty
from odatapy.edm.model import Edm, EdmComplexType, EdmEntityType
from odatapy.edm.names import FullQualifiedName
from odatapy.edm.xml_io import XmlEdmProvider

from sync.review.reviews import REVIEW_STATES
from tests.exports.conftest import FORM

ACCOUNT = ("office@county.example", "correct horse battery")
SVC = f"/v1/projects/1/forms/{FORM}.svc"
ENTITIES = "/v1/projects/1/datasets/households.svc"


@pytest.fixture
def office(services) -> tuple[str, str]:  # noqa: ANN001
    from sync.access.accounts import create_user
    from sync.db.engine import transaction

    with transaction(services.sessions) as session:
        create_user(session, *ACCOUNT, "supervisor")
    return ACCOUNT


# CSDL 4.0's SimpleIdentifier (edm.xsd, TSimpleIdentifier): a letter or underscore, then letters, digits,
# marks and connectors; no dot.
SIMPLE_IDENTIFIER = re.compile(r"^[^\W\d][\w]{0,127}$")
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def model(document: bytes) -> dict[str, dict[str, str]]:
    """Each entity set's properties (complex ones flattened with ``/``) and navigations with their types,
    as odatapy's model resolves them; raises when any name a document uses is not declared in it.

    Type references are split into namespace and name at the declared schema namespace: Central names the
    repeat tables' types ``Submissions.members`` (a dot inside a name, see `identifier_problems`), which
    odatapy's own splitting at the last dot cannot find."""
    edm = Edm(XmlEdmProvider(document))
    namespaces = [schema.namespace for schema in edm.schemas]

    def resolve(reference: str):  # noqa: ANN202 - an odatapy type
        base = reference[len("Collection(") : -1] if reference.startswith("Collection(") else reference
        if base.startswith("Edm."):
            return edm.resolve_type(base)  # odatapy's primitive kinds: an unknown Edm.* raises
        namespace = max((n for n in namespaces if base.startswith(n + ".")), key=len, default=None)
        assert namespace is not None, f"{reference}: in no declared namespace"
        name = FullQualifiedName(namespace, base[len(namespace) + 1 :])
        found = edm.get_entity_type(name) or edm.get_complex_type(name) or edm.get_enum_type(name)
        if found is None:
            raise KeyError(f"Unknown type: {reference}")
        return found

    container = edm.entity_container
    assert container is not None, "no entity container"
    sets: dict[str, dict[str, str]] = {}
    for entity_set in container.entity_sets:
        entity_type = resolve(entity_set._csdl.type)
        assert isinstance(entity_type, EdmEntityType), f"{entity_set.name}: not an entity type"
        keys = entity_type.key_properties
        assert [key.name for key in keys] == ["__id"] and keys[0].type_fqn == "Edm.String"
        found: dict[str, str] = {}
        _properties(entity_type, "", found, resolve)
        for binding in entity_set.navigation_property_bindings:
            target = container.get_entity_set(binding.target)
            assert target is not None, f"{entity_set.name}: binding to a missing set {binding.target}"
            target_type = resolve(target._csdl.type)
            assert found.get(binding.path) == f"Collection({target_type.name})", f"{entity_set.name}: {binding.path}"
        sets[entity_set.name] = found
    return sets


def _properties(structured, prefix: str, found: dict[str, str], resolve) -> None:  # noqa: ANN001 - odatapy types
    for prop in structured.get_properties():
        resolved = resolve(prop.type_fqn)
        if isinstance(resolved, EdmComplexType):
            found[prefix + prop.name] = resolved.name
            _properties(resolved, f"{prefix}{prop.name}/", found, resolve)
        else:
            found[prefix + prop.name] = prop.type_fqn
    for navigation in structured.get_navigation_properties():
        target = resolve(navigation.type_fqn)
        assert isinstance(target, EdmEntityType), f"{navigation.name}: navigation to a non-entity type"
        found[prefix + navigation.name] = f"Collection({target.name})"


def enum_members(document: bytes) -> dict[str, list[str]]:
    """Each enumeration odatapy's model declares, with its members in order."""
    edm = Edm(XmlEdmProvider(document))
    return {
        enum.name: list(enum.member_names)
        for schema in edm.schemas
        for enum in (edm.get_enum_type(FullQualifiedName(schema.namespace, e.name)) for e in schema.enum_types)
    }


def identifier_problems(document: bytes) -> set[str]:
    """Every ``Name`` that is not a CSDL SimpleIdentifier."""
    root = etree.fromstring(document)
    return {
        element.get("Name")
        for element in root.iter()
        if element.get("Name") is not None and not SIMPLE_IDENTIFIER.match(element.get("Name"))
    }


def test_submission_metadata_resolves_in_an_independent_model(client, shapes, supervisor) -> None:  # noqa: ANN001
    for suffix in ("", "?deletedFields=true"):
        response = client.get(f"{SVC}/$metadata{suffix}", headers=supervisor)
        sets = model(response.data)
        assert list(sets) == ["Submissions", "Submissions.members", "Submissions.members.jobs"]
        root = sets["Submissions"]
        assert root["__system"] == "metadata" and root["__system/submissionDate"] == "Edm.DateTimeOffset"
        # Central's __system: deletedAt, and status and reviewState as enumerations of its values
        assert [name.removeprefix("__system/") for name in root if name.startswith("__system/")] == [
            "submissionDate", "updatedAt", "deletedAt", "submitterId", "submitterName", "attachmentsPresent",
            "attachmentsExpected", "status", "reviewState", "deviceId", "edits", "formVersion",
        ]
        assert root["__system/deletedAt"] == "Edm.DateTimeOffset"
        assert root["__system/status"] == "org.opendatakit.submission.Status"
        assert root["__system/reviewState"] == "org.opendatakit.submission.ReviewState"
        enums = enum_members(response.data)
        assert enums == {
            "Status": ["notDecrypted", "missingEncryptedFormData"],
            "ReviewState": ["hasIssues", "edited", "rejected", "approved"],
        }
        assert set(enums["ReviewState"]) == set(REVIEW_STATES)  # every state a review can set, none other
        assert root["place"] == "Submissions.place" and root["place/spot"] == "Edm.GeographyPoint"
        assert root["rooms"] == "Edm.Int64" and root["visited"] == "Edm.Date"
        assert root["members"] == "Collection(Submissions.members)"
        members = sets["Submissions.members"]
        assert members["__Submissions-id"] == "Edm.String" and members["m_info/m_age"] == "Edm.Int64"
        assert members["jobs"] == "Collection(Submissions.members.jobs)"
        assert sets["Submissions.members.jobs"]["__Submissions-members-id"] == "Edm.String"
        # The departures from CSDL's identifiers are Central's own, which its clients (Excel, Power BI,
        # pyodk) expect: the dotted names of repeat tables and groups, the dashed parent-key properties.
        assert identifier_problems(response.data) == {
            "Submissions.place",
            "Submissions.meta",
            "Submissions.members",
            "Submissions.members.m_info",
            "Submissions.members.jobs",
            "__Submissions-id",
            "__Submissions-members-id",
        }


def test_entity_metadata_resolves_in_an_independent_model(client, shapes, supervisor) -> None:  # noqa: ANN001
    sets = model(client.get(f"{ENTITIES}/$metadata", headers=supervisor).data)
    assert list(sets) == ["Entities"]
    entities = sets["Entities"]
    assert entities["__system/version"] == "Edm.Int64" and entities["__system/createdAt"] == "Edm.DateTimeOffset"
    assert entities["label"] == entities["house_grade"] == entities["hh_size"] == "Edm.String"
    assert identifier_problems(client.get(f"{ENTITIES}/$metadata", headers=supervisor).data) == set()


def test_an_odata_client_reflects_both_services(live_server, shapes, office) -> None:  # noqa: ANN001
    """python-odata reads ``$metadata`` over HTTP Basic and builds a class per entity set."""
    service = ODataService(f"{live_server.url}{SVC}/", auth=office, reflect_entities=True, quiet_progress=True)
    assert set(service.entities) == {"Submissions", "Submissions.members", "Submissions.members.jobs"}
    submissions = service.entities["Submissions"]
    assert isinstance(_declared(submissions, "rooms"), IntegerProperty)
    assert isinstance(_declared(submissions, "house_grade"), StringProperty)
    assert isinstance(_declared(submissions, "members"), NavigationProperty)
    assert isinstance(_declared(service.entities["Submissions.members"], "__Submissions-id"), StringProperty)

    entities = ODataService(f"{live_server.url}{ENTITIES}/", auth=office, reflect_entities=True, quiet_progress=True)
    assert set(entities.entities) == {"Entities"}
    assert isinstance(_declared(entities.entities["Entities"], "hh_code"), StringProperty)


def _declared(entity_class: type, name: str) -> object:
    """The property object python-odata put on a reflected class (or one of its bases) for ``name``."""
    return next(vars(owner)[name] for owner in entity_class.__mro__ if name in vars(owner))


def test_the_models_reject_a_dangling_type() -> None:
    """The checks above can fail: a property naming an undeclared type does not resolve."""
    broken = (
        b'<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0"><edmx:DataServices>'
        b'<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="n"><EntityType Name="T">'
        b'<Key><PropertyRef Name="__id"/></Key><Property Name="__id" Type="Edm.String"/>'
        b'<Property Name="g" Type="n.Missing"/></EntityType><EntityContainer Name="c">'
        b'<EntitySet Name="S" EntityType="n.T"/></EntityContainer></Schema></edmx:DataServices></edmx:Edmx>'
    )
    with pytest.raises(KeyError):
        model(broken)
    assert identifier_problems(broken.replace(b'Name="g"', b'Name="g.h"')) == {"g.h"}
