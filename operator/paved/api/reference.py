"""The API reference pages (`docs/api/<kind>.md`), rendered from the same schemas as the CRDs."""

from __future__ import annotations

from typing import Any

from paved.api.crds import Kind, openapi_schema

_CONSTRAINTS = ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "pattern")


def _type(node: dict[str, Any]) -> str:
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return "object (free-form)"
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if node.get("type") == "array":
        return f"list of {_type(node.get('items', {}))}"
    if node.get("format") == "date-time":
        return "timestamp"
    return str(node.get("type", "object"))


def _rules(node: dict[str, Any]) -> str:
    parts = [f"{key} {node[key]}" for key in _CONSTRAINTS if key in node]
    rules = [*node.get("x-kubernetes-validations", [])]
    rules += node.get("items", {}).get("x-kubernetes-validations", [])  # each item's rules
    parts += [rule["message"] for rule in rules]
    return "; ".join(p.replace("|", "\\|") for p in parts)


def _rows(node: dict[str, Any], path: str, required: bool) -> list[str]:
    description = str(node.get("description", "")).replace("\n", " ").replace("|", "\\|")
    default = f"`{node['default']}`" if "default" in node else ""
    rows = [
        f"| `{path}` | {_type(node)} | {'yes' if required else ''} | {default} | "
        f"{description} | {_rules(node)} |"
    ]
    children = node.get("properties") or node.get("items", {}).get("properties")
    needed = set(node.get("required", []) or node.get("items", {}).get("required", []))
    suffix = "[]" if node.get("type") == "array" else ""
    for name, child in (children or {}).items():
        rows += _rows(child, f"{path}{suffix}.{name}", name in needed)
    return rows


def render_reference(kind: Kind[Any, Any]) -> str:
    header = "| field | type | required | default | meaning | validation |\n" + "|---" * 6 + "|"
    spec = "\n".join(_rows(openapi_schema(kind.spec), "spec", True))
    status = "\n".join(_rows(openapi_schema(kind.status), "status", False))
    columns = ", ".join(c.name for c in kind.columns)
    return (
        f"# {kind.kind}\n\n"
        f"<!-- Generated from paved.api by `make crds`: do not edit. -->\n\n"
        f"{kind.description}\n\n"
        f"`apiVersion: paved.dev/v1alpha1`, `kind: {kind.kind}`; "
        f"`kubectl get {kind.plural}` (short: {', '.join(kind.short_names)}) shows {columns}.\n\n"
        f"## Spec (written by you)\n\n{header}\n{spec}\n\n"
        f"## Status (written by the operator)\n\n{header}\n{status}\n"
    )
