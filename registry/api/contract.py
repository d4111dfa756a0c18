"""Declaring an endpoint: its permission, its typed input and output, and from them the
route, the checks at the door and its part of the OpenAPI document.

A feature's ``api.py`` reads::

    @endpoint("POST", "/patients/{registry_id}/deactivation", permission=P.PATIENTS_DEACTIVATE,
              body=Deactivation, response=PatientOut, tag="Patients",
              summary="Deactivate a patient")
    def deactivate(user: User, registry_id: str, body: Deactivation) -> PatientOut:
        return PatientOut.of(deactivate_patient(db.session(), user, registry_id, body))

The wrapper authenticates (401), checks the role against the policy (403) before any record
is read, parses the body (and the query) into the models (422 naming each field), calls the
function, and serializes what it returns with the response model. Mutating requests of a
signed-in caller honour ``Idempotency-Key``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Response, jsonify, make_response, request
from pydantic import BaseModel

from registry.api.blueprint import ApiUnauthorized, bearer_token, bp, json_body, optional_user
from registry.contract import INT_LIMIT, parse
from registry.errors import NotFound, PermissionDenied
from registry.policy import Permission, holds, open_to_anyone

# Path parameters by name: integers are record ids; the rest are text.
TEXT_PARAMS: dict[str, dict[str, Any]] = {
    "registry_id": {"type": "string", "maxLength": 30,
                    "description": "The patient's registry ID."},
    "rma": {"type": "string", "maxLength": 20, "description": "The RMA number."},
}
ID_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": INT_LIMIT,
                             "description": "Record id."}
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as in the OpenAPI document: /patients/{registry_id}
    permission: Permission
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    description: str = ""
    idempotent: bool = False
    params: tuple[str, ...] = field(default=())
    also: tuple[tuple[int, type[BaseModel], str], ...] = ()  # other success answers
    denies: type[BaseModel] | None = None  # a 422 may be this denial as well as bad input

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS: list[Endpoint] = []
_PARAM = re.compile(r"{([a-z_]+)}")


def flask_rule(path: str) -> str:
    return _PARAM.sub(lambda m: (f"<{m[1]}>" if m[1] in TEXT_PARAMS else f"<int:{m[1]}>"),
                      path)


def endpoint(method: str, path: str, *, permission: Permission, summary: str, tag: str,
             body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
             response: type[BaseModel] | None = None, status: int = 200,
             errors: tuple[int, ...] = (), description: str = "",
             rate_limit: str | None = None, idempotent: bool | None = None,
             also: tuple[tuple[int, type[BaseModel], str], ...] = (),
             denies: type[BaseModel] | None = None, replays_itself: bool = False,
             ) -> Callable[[Callable[..., Any]], Any]:
    """Register ``function`` as ``method path`` on the API blueprint (see the module doc).

    ``function(user, **path_params, body=..., query=...)`` returns a ``response`` model, a
    ``(model, status)`` pair (a status of ``also``: (status, model, when) triples), a Flask
    ``Response``, or None (204).

    ``replays_itself``: the operation keeps the ``Idempotency-Key`` with what it stores and
    replays from there (``POST /authorizations`` keeps it with the decision, denials
    included): the header is honoured and documented, but the shared layer
    (registry/api/idempotency.py) is not wrapped around it, so that a request looks its key
    up once, not twice.
    """
    if idempotent is None:
        idempotent = method in MUTATING and not open_to_anyone(permission)
    spec = Endpoint(method=method, path=path, permission=permission, summary=summary, tag=tag,
                    body=body, query=query, response=response, status=status,
                    errors=errors, description=description, idempotent=idempotent,
                    params=tuple(_PARAM.findall(path)), also=also, denies=denies)

    def decorate(function: Callable[..., Any]) -> Any:
        def answer(**path_params: Any) -> Any:
            user = optional_user()
            kwargs: dict[str, Any] = dict(path_params)
            if body is not None:
                kwargs["body"] = parse(body, json_body())
            if query is not None:
                kwargs["query"] = parse(query, request.args.to_dict())
            return _response(spec, function(user, **kwargs))

        if idempotent and not replays_itself:
            from registry.api.idempotency import idempotent as replayable

            answer = replayable(answer)

        @wraps(function)
        def view(**path_params: Any) -> Any:
            user = optional_user()
            if user is None and not open_to_anyone(permission):
                if bearer_token() is not None:
                    raise ApiUnauthorized(
                        "This token is not valid: it is unknown, expired or revoked.")
                raise ApiUnauthorized()
            if user is not None and not holds(user.role, permission):
                raise PermissionDenied(f"A {user.role} may not do this ({permission}).")
            for value in path_params.values():
                if isinstance(value, int) and not 1 <= value <= INT_LIMIT:
                    raise NotFound("No such record.")
            return answer(**path_params)

        registered: Any = view
        if rate_limit is not None:
            from registry.api.blueprint import limit

            registered = limit(rate_limit)(registered)
        bp.add_url_rule(flask_rule(path), endpoint=function.__name__, view_func=registered,
                        methods=[method])
        ENDPOINTS.append(spec)
        return function

    return decorate


def _response(spec: Endpoint, result: Any) -> Any:
    if result is None:
        return make_response("", 204)
    if isinstance(result, Response):
        return result
    status = spec.status
    if isinstance(result, tuple):
        result, status = result
    if not isinstance(result, BaseModel):
        raise TypeError(f"{spec.label} returned {type(result).__name__}, not a model")
    answer = jsonify(result.model_dump(mode="json", by_alias=True))
    answer.status_code = status
    return answer

