"""A CDS Hooks 2.0 request, as far as the registry reads it: checked once, named field by
field when wrong."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, Strict

from registry.contract import TEXT_PATTERN, Input

Id = Annotated[str, Strict(), Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)]
UserReference = Annotated[str, Strict(), Field(
    max_length=200, pattern=r"^(Practitioner|PractitionerRole|Patient|RelatedPerson)/[^/\s]+$")]
Resource = dict[str, Any]


class FhirAuthorization(Input):
    access_token: Annotated[str, Strict(), Field(min_length=1, max_length=8000)]
    token_type: Annotated[str, Strict(), Field(pattern="^Bearer$")]
    expires_in: Annotated[int, Strict(), Field(ge=0)]
    scope: Annotated[str, Strict(), Field(max_length=4000)]
    subject: Annotated[str, Strict(), Field(max_length=500)]


class Context(Input):
    userId: UserReference
    patientId: Id
    encounterId: Id | None = None


class OrderContext(Context):
    draftOrders: Resource


class SelectContext(OrderContext):
    selections: Annotated[list[Id], Field(min_length=1, max_length=100)]


class HookRequest(Input):
    hook: Id
    hookInstance: Id
    fhirServer: Annotated[str, Strict(), Field(max_length=500, pattern=r"^https?://\S+$")] | None = None  # noqa: E501
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Resource | None] | None = None
