"""GET /api/v1/openapi.json, and /api/docs: a readable page rendered from that document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from registry.api.blueprint import bp
from registry.api.errors import PROBLEM_TYPES
from registry.api.openapi import document

docs_bp = Blueprint("api_docs", __name__, url_prefix="/api")


@bp.get("/openapi.json")
def openapi_json() -> Any:
    return document(request.host_url.rstrip("/") + "/api/v1")


def _schema_name(schema: dict[str, Any] | None) -> str | None:
    if not schema:
        return None
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        names = [_schema_name(s) for s in schema["anyOf"]]
        return " or ".join(n for n in names if n)
    return str(schema.get("type", "object"))


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " | ".join(_type(s) for s in schema[key])
    kind = schema.get("type", "object")
    text = " | ".join(kind) if isinstance(kind, list) else str(kind)
    if text.startswith("array") and "items" in schema:
        text = f"array of {_type(schema['items'])}"
    if "enum" in schema:
        text += ": " + ", ".join(str(v) for v in schema["enum"] if v is not None)
    if "const" in schema:
        text += f" = {schema['const']!r}"
    if "format" in schema:
        text += f" ({schema['format']})"
    return text


def _operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    ops = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            responses = []
            for status, response in op["responses"].items():
                content = response.get("content", {})
                media, spec = next(iter(content.items())) if content else (None, {})
                responses.append({"status": status, "description": response["description"],
                                  "media": media, "schema": _schema_name(spec.get("schema"))})
            ops.append({
                "id": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                "method": method.upper(), "path": "/api/v1" + path,
                "summary": op.get("summary", ""), "description": op.get("description", ""),
                "anonymous": op.get("security") == [], "tag": op.get("tags", [""])[0],
                "parameters": [p for p in op.get("parameters", []) if "name" in p],
                "idempotent": any("$ref" in p for p in op.get("parameters", [])),
                "body": _schema_name(body.get("schema")), "responses": responses,
            })
    return ops


def _schemas(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, schema in doc["components"]["schemas"].items():
        props = []
        required = set(schema.get("required", []))
        for prop, spec in schema.get("properties", {}).items():
            props.append({"name": prop, "type": _type(spec), "required": prop in required,
                          "description": spec.get("description", "")})
        out.append({"name": name, "description": schema.get("description", ""),
                    "type": _type(schema) if not props else "object", "properties": props,
                    "example": schema.get("example")})
    return out


@docs_bp.get("/docs")
def api_docs() -> Any:
    doc = document(request.host_url.rstrip("/") + "/api/v1")
    return render_template("api/docs.html", doc=doc, operations=_operations(doc),
                           schemas=_schemas(doc), problems=PROBLEM_TYPES)


@docs_bp.get("/problems/<slug>")
def problem_page(slug: str) -> Any:
    return redirect(url_for("api_docs.api_docs", _anchor=f"problem-{slug}"))
