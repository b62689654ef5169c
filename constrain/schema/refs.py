"""`$ref` resolution inside one schema document: base URIs from `$id` (draft 4: `id`), anchors, JSON
pointers. Nothing outside the document is ever read: a reference to another document (http://,
file://, a urn or relative path no `$id` in the document declares) is an `UnsupportedSchemaError`.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urldefrag, urljoin, unquote

from .errors import SchemaError, UnsupportedSchemaError

# keywords whose values are schemas (one, a list, or a name -> schema map): where `$id` counts
_ONE = ("additionalProperties", "additionalItems", "not", "if", "then", "else", "contains", "propertyNames",
        "unevaluatedProperties", "unevaluatedItems", "items", "contentSchema")
_LIST = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies")


class Resolver:
    """Maps each subschema pointer to its base URI, and `$ref` values to (subschema, pointer)."""

    def __init__(self, root: Any, id_key: str, legacy_ref: bool):
        self.root = root
        self.id_key = id_key
        self.legacy_ref = legacy_ref
        self.base: dict[str, str] = {}  # pointer -> base URI
        self.resources: dict[str, str] = {}  # absolute URI (no fragment) -> pointer
        self.anchors: dict[str, str] = {}  # absolute URI with a plain-name fragment -> pointer
        self._walk(root)

    def _walk(self, root: Any) -> None:
        """Record the base URI of every subschema, and its `$id`s and anchors. An explicit stack,
        not recursion: a schema nested thousands deep must reach the compiler's depth guard."""
        stack = [(root, "#", "")]
        while stack:
            node, ptr, base = stack.pop()
            if not isinstance(node, dict):
                continue
            has_ref = "$ref" in node and self.legacy_ref  # drafts 4-7: keywords beside $ref are ignored
            ident = node.get(self.id_key)
            if isinstance(ident, str) and not has_ref:
                uri, frag = urldefrag(_join(base, ident))
                if frag and not uri.endswith("/") and ident.startswith("#"):
                    self.anchors[f"{uri}#{frag}"] = ptr  # draft 6/7 `"$id": "#name"` is an anchor
                else:
                    base = uri
                    self.resources.setdefault(uri, ptr)
            anchor = node.get("$anchor")
            if isinstance(anchor, str):
                self.anchors[f"{base}#{anchor}"] = ptr
            self.base[ptr] = base
            if ptr == "#":
                self.resources.setdefault(base, "#")
            if has_ref:
                continue
            children = []
            for key in _ONE:
                if isinstance(node.get(key), dict):
                    children.append((node[key], f"{ptr}/{key}"))
            for key in _LIST:
                if isinstance(node.get(key), list):
                    children += [(sub, f"{ptr}/{key}/{k}") for k, sub in enumerate(node[key])]
            for key in _MAP:
                if isinstance(node.get(key), dict):
                    children += [(sub, f"{ptr}/{key}/{escape(name)}") for name, sub in node[key].items()]
            stack += [(sub, sub_ptr, base) for sub, sub_ptr in reversed(children)]  # document order

    def base_of(self, ptr: str) -> str:
        while ptr not in self.base and "/" in ptr:
            ptr = ptr.rsplit("/", 1)[0]
        return self.base.get(ptr, "")

    def resolve(self, ref: Any, ptr: str) -> tuple[Any, str]:
        """The subschema `ref` (found at `ptr`, the pointer of the `$ref` keyword) names."""
        if not isinstance(ref, str):
            raise SchemaError("$ref must be a string", ptr)
        target = _join(self.base_of(ptr.rsplit("/", 1)[0]), ref)
        uri, frag = urldefrag(target)
        if uri not in self.resources:
            raise UnsupportedSchemaError(f"$ref {ref!r} names another document ({uri}): remote references are "
                                         "refused (a schema never reads files or the network)", ptr)
        if frag and not frag.startswith("/"):
            if target not in self.anchors:
                raise SchemaError(f"$ref {ref!r}: no anchor {frag!r} in the document", ptr)
            found = self.anchors[target]
            return self.at(found), found
        start = self.resources[uri]
        node = self.at(start)
        out = start
        for part in frag.split("/")[1:] if frag else []:
            part = unquote(part).replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SchemaError(f"$ref {ref!r} does not resolve", ptr)
            out = f"{out}/{escape(part)}"
        return node, out

    def at(self, pointer: str) -> Any:
        """The subschema at a pointer this resolver produced (so it exists)."""
        node = self.root
        for part in pointer[2:].split("/") if pointer != "#" else []:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node


def _join(base: str, ref: str) -> str:
    if ref.startswith("#") or not base:
        return (base + ref) if ref.startswith("#") else ref
    if ":" in base.split("/")[0] and not base.split(":")[0] in ("http", "https", "file", "ftp"):
        # urn:... and other non-hierarchical bases: only fragments and absolute URIs resolve
        return ref if ":" in ref.split("/")[0] else base.split("#")[0] + "/" + ref
    return urljoin(base, ref)


def escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")
