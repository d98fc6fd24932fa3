"""Static types of the expression language, derived from the JSON Schemas.

Expressions are type-checked once at load against the order and decision
schemas, so a misspelled fact, a comparison of a timestamp with a number or
``shop.type == "offical_flagship"`` is a load error, not a silent False at
run time; and arithmetic on text (the string-growth attacks) cannot be written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BOOL = "bool"
NUMBER = "number"
TEXT = "text"
TIMESTAMP = "timestamp"
DURATION = "duration"
DATE = "date"
LIST = "list"
OBJECT = "object"
MAP = "map"

WORDS = {
    BOOL: "true/false",
    NUMBER: "a number",
    TEXT: "text",
    TIMESTAMP: "a timestamp",
    DURATION: "a duration",
    DATE: "a date",
    LIST: "a list",
    OBJECT: "an object",
    MAP: "a map",
}


@dataclass(eq=False)
class Type:
    kind: str
    elem: Type | None = None
    fields: dict[str, Field] = field(default_factory=dict)
    enum: tuple[str, ...] | None = None
    integer: bool = False
    money: bool = False
    name: str = ""
    """An object's path (``claim.installation``), or the name of an enum's value set (``category``)."""

    def words(self) -> str:
        if self.kind == LIST and self.elem is not None:
            return f"a list of {self.elem.words().removeprefix('a ').removeprefix('an ')}"
        if self.kind == NUMBER and self.money:
            return "an amount of money"
        if self.kind == OBJECT and self.name:
            return f"the object {self.name}"
        return WORDS[self.kind]

    def same_kind(self, other: Type) -> bool:
        return self.kind == other.kind


@dataclass(eq=False)
class Field:
    type: Type
    optional: bool
    description: str = ""


def scalar(kind: str, **kw: Any) -> Type:
    return Type(kind, **kw)


def list_of(elem: Type) -> Type:
    return Type(LIST, elem=elem)


def from_schema(schema: dict[str, Any], root: dict[str, Any] | None = None, name: str = "") -> Type:
    """The expression type of a JSON Schema node (local ``$ref`` s only)."""
    root = root if root is not None else schema
    money = False
    named = ""
    while "$ref" in schema:
        ref = str(schema["$ref"])
        money = money or ref.endswith("/money")
        named = ref.rsplit("/", 1)[-1]
        target: Any = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if "enum" in schema and kind in (None, "string"):
        return Type(TEXT, enum=tuple(str(v) for v in schema["enum"]), name=named)
    if kind == "string":
        fmt = schema.get("format")
        return Type(TIMESTAMP if fmt == "date-time" else DATE if fmt == "date" else TEXT)
    if kind == "integer":
        return Type(NUMBER, integer=True)
    if kind == "number":
        return Type(NUMBER, money=money)
    if kind == "boolean":
        return Type(BOOL)
    if kind == "array":
        return list_of(from_schema(schema.get("items", {}), root, name))
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        if not props and isinstance(schema.get("additionalProperties"), dict):
            return Type(MAP, elem=from_schema(schema["additionalProperties"], root, name), name=name)
        required = set(schema.get("required", ()))
        fields = {
            key: Field(
                from_schema(sub, root, f"{name}.{key}" if name else key),
                key not in required,
                str(sub.get("description", "")),
            )
            for key, sub in props.items()
        }
        return Type(OBJECT, fields=fields, name=name)
    return Type(TEXT)
