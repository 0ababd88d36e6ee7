"""The catalog document: the one input of every renderer, and build/catalog.json as it is.

A document is made only through `Document(...)`, which checks it against its published
schema (schema/catalog.schema.json) and refuses it with every problem listed. Renderers
take a Document, so neither the build nor a renderer's test fixture can hand them a
record the schema does not allow; the JSON export is this object serialised.

Shapes are data here: each form carries `axes` (its sizes, one string an axis) beside the
display text `shape`, so no renderer parses a shape back out of text.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from matderiv import resources

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


class DocumentError(ValueError):
    """The document does not fit its schema; the message lists every problem."""


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads((resources.SCHEMA / "catalog.schema.json").read_text(encoding="utf-8"))


def _is(value, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def problems(value, part: dict, root: dict, path: str = "$") -> list[str]:
    """Problems of `value` against `part` of the schema `root`: the subset of JSON Schema
    2020-12 the schema uses (type, const, enum, pattern, minimum, required, properties,
    additionalProperties, items, $ref, if/then/else)."""
    if "$ref" in part:
        return problems(value, root["$defs"][part["$ref"].removeprefix("#/$defs/")], root, path)
    found = []
    types = part.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(_is(value, t) for t in types):
            return [f"{path}: {type(value).__name__} is not {types}"]
        if value is None:
            return []
    if "const" in part and value != part["const"]:
        found.append(f"{path}: {value!r} is not {part['const']!r}")
    if "enum" in part and value not in part["enum"]:
        found.append(f"{path}: {value!r} not in {part['enum']}")
    if "pattern" in part and isinstance(value, str) and not re.search(part["pattern"], value):
        found.append(f"{path}: {value!r} does not match {part['pattern']}")
    if "minimum" in part and _is(value, "number") and value < part["minimum"]:
        found.append(f"{path}: {value} < {part['minimum']}")
    if isinstance(value, dict):
        found += [f"{path}: missing `{k}`" for k in part.get("required", ()) if k not in value]
        found += _object_problems(value, part, root, path)
    if isinstance(value, list) and "items" in part:
        for i, item in enumerate(value):
            found += problems(item, part["items"], root, f"{path}[{i}]")
    if "if" in part:
        branch = "then" if not problems(value, part["if"], root, path) else "else"
        found += problems(value, part.get(branch, {}), root, path)
    return found


def _object_problems(value: dict, part: dict, root: dict, path: str) -> list[str]:
    found = []
    props = part.get("properties", {})
    extra = part.get("additionalProperties", True)
    for key, item in value.items():
        if key in props:
            found += problems(item, props[key], root, f"{path}.{key}")
        elif extra is False:
            found.append(f"{path}: unexpected key `{key}`")
        elif isinstance(extra, dict):
            found += problems(item, extra, root, f"{path}.{key}")
    return found


class Document(dict):
    """The catalog document, checked against the schema when made (and when copied)."""

    def __init__(self, data):
        super().__init__(data)
        found = problems(self, schema(), schema())
        if found:
            shown = "\n  ".join(found[:20])
            more = f"\n  ... and {len(found) - 20} more" if len(found) > 20 else ""
            raise DocumentError(f"the catalog document does not fit its schema:\n  {shown}{more}")

    def record(self, identity_id: str) -> dict:
        """The record of one identity (KeyError if there is none)."""
        for rec in self["identities"]:
            if rec["id"] == identity_id:
                return rec
        raise KeyError(identity_id)
