"""A Babel extractor for the English sentences the rules and operations hand to pages.

The rules stay pure (no gettext calls in them): their next steps, reason messages, method
names and field errors are plain strings, looked up in the catalog when a page shows them
(:func:`registry.i18n.text`). This extractor puts those strings in the catalog, so a new
sentence in the rules shows up in ``messages.pot`` with an empty Spanish translation.

What is extracted: string literals (not f-strings) that are
- the message of a next step (``b.step(actor, "...")``, ``NextStep(actor, "...")``), marked
  with the extracted comment ``next step``;
- a reason's message or action (``b.reason(code, "...", "...")``);
- a field error (``errors.add(field, "...")``, ``err(field, "...")``, ``ValidationError(
  field="...")``, ``LoginFailed("...")``, ``PermissionDenied("...")``, ``NotFound("...")``);
- a sentence returned in a list or appended to one (``return ["..."]``, ``problems.append``);
- a module-level UPPER_CASE constant or a dict of them (method names, reason wording).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import IO, Any

STEP_CALLS = {"step", "NextStep"}
SECOND_ARG_CALLS = {"add", "err", "_fail"}  # _fail: registry/contract.py
REASON_CALLS = {"reason"}
ERROR_CLASSES = {"ValidationError", "LoginFailed", "PermissionDenied", "NotFound",
                 "RegistryError", "Conflict"}

Found = tuple[int, str, str, list[str]]


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _sentence(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        value = node.value.strip()
        # Words people read, not codes, keys or date patterns ("PATIENT_NOT_FOUND", "lab").
        words = " " in value and value[:1].isupper() and re.search("[a-z]{3}", value)
        return node.value if words else None
    return None


def _from_call(call: ast.Call) -> Iterator[tuple[ast.AST, list[str]]]:
    name = _name(call.func)
    args = call.args
    if name in STEP_CALLS and len(args) > 1:
        yield args[1], ["next step"]
    elif name in SECOND_ARG_CALLS and len(args) > 1:
        yield args[1], []
    elif name in REASON_CALLS:
        for arg in args[1:3]:
            yield arg, []
    elif name in ERROR_CLASSES:
        for arg in [*args, *(k.value for k in call.keywords)]:
            yield arg, []
    elif name == "append" and args:
        yield args[0], []


def _from_module_constant(node: ast.AST) -> Iterator[tuple[ast.AST, list[str]]]:
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper()]
        if not names:
            return
        # registry/rules/wording.py names each next step STEP_...
        comments = ["next step"] if any(n.startswith("STEP_") for n in names) else []
        value = node.value
        if isinstance(value, ast.Dict):
            yield from ((v, comments) for v in value.values)
        elif value is not None:
            yield value, comments


def extract_program_text(fileobj: IO[bytes], keywords: Any, comment_tags: Any,
                         options: Any) -> Iterator[Found]:
    tree = ast.parse(fileobj.read().decode("utf-8"))
    found: list[tuple[ast.AST, list[str]]] = []
    for statement in tree.body:
        found += list(_from_module_constant(statement))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            found += list(_from_call(node))
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.List):
            found += [(element, []) for element in node.value.elts]
    for value, comments in found:
        message = _sentence(value)
        if message is not None:
            yield getattr(value, "lineno", 0), "", message, comments
