"""The project's M2M custom-claims template: how request parameters become claims.

Stytch mints custom claims into an M2M token only through a JWT template of
type ``M2M``: JSON text whose values may use ``{{ request.<param> }}``::

    {"tenant": {{ request.tenant_id }}, "label": "job {{ request.job }}"}

A placeholder standing for a whole value is replaced by the parameter's JSON
value (a string from a form body, any JSON value from a JSON body); when the
request does not send it, the member is left out (null in an array). A
placeholder inside a string is replaced by the parameter's text (JSON text
for non-strings; empty when missing).
Parameters the template does not name are ignored, and without a template no
parameter is minted at all.

The template is checked when it is set, never when a token is requested:

* it must be a JSON object, at most 64 KiB and 32 levels deep;
* claim names are fixed text (no placeholder in a key), so the top-level
  names are known up front, and none may be a reserved or authority-bearing
  claim (``iss sub aud exp … scope scp permissions roles client_id azp …``,
  compared case-insensitively): a client must never be able to mint itself
  scopes, roles or another identity;
* the only expressions are ``{{ request.<name> }}``; anything else in
  ``{{ }}`` is refused.

Placeholders are found by scanning the JSON text (tracking string literals),
replaced by sentinels carrying a per-compile random nonce, and the result is
parsed with :func:`json.loads`; a value can therefore never change the
template's structure, however it is spelled.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._db import Database
from ._errors import BadRequestError
from ._validate import (
    AUTHORITY_CLAIMS,
    MAX_JSON_BYTES,
    check_depth,
    custom_claims_value,
    reject_json_constant,
)

__all__ = ["EMPTY_TEMPLATE", "ClaimsTemplate", "TemplateStore", "compile_template"]

TEMPLATE_TYPE = "M2M"
MAX_TEMPLATE_BYTES = MAX_JSON_BYTES
MAX_AUDIENCE = 1024
_FORBIDDEN = frozenset(name.lower() for name in AUTHORITY_CLAIMS)
_EXPRESSION = re.compile(r"\{\{\s*request\.([A-Za-z0-9_-]{1,128})\s*\}\}")


def _invalid(message: str) -> BadRequestError:
    return BadRequestError(message, error_type="invalid_jwt_template")


@dataclass(frozen=True, slots=True)
class _Param:
    """A whole value taken from a request parameter."""

    name: str


@dataclass(frozen=True, slots=True)
class _Text:
    """A string with parameters interpolated: literal parts and parameters."""

    parts: tuple[str | _Param, ...]


def _replace_placeholders(text: str, nonce: str) -> tuple[str, list[str]]:
    """The template text with sentinels for placeholders, and the names in order.

    A placeholder outside a string literal becomes a string holding only a
    whole-value sentinel (``W``); inside a string literal, an inline one (``I``).
    """
    out: list[str] = []
    names: list[str] = []
    in_string = escaped = False
    i = 0
    while i < len(text):
        if text.startswith("{{", i) and not escaped:
            match = _EXPRESSION.match(text, i)
            if match is None:
                raise _invalid(
                    "Only {{ request.<parameter> }} expressions are supported in an M2M template."
                )
            kind = "I" if in_string else "W"
            sentinel = f"\ue000{nonce}{kind}{len(names)}\ue000"
            names.append(match.group(1))
            out.append(sentinel if in_string else f'"{sentinel}"')
            i = match.end()
            continue
        char = text[i]
        if escaped:
            escaped = False
        elif in_string and char == "\\":
            escaped = True
        elif char == '"':
            in_string = not in_string
        out.append(char)
        i += 1
    return "".join(out), names


class _Compiler:
    """Turns parsed template JSON holding sentinels into template nodes."""

    def __init__(self, nonce: str, names: list[str]) -> None:
        self._names = names
        self._whole = re.compile(f"\ue000{nonce}W([0-9]+)\ue000")
        self._inline = re.compile(f"\ue000{nonce}I([0-9]+)\ue000")
        self._any = re.compile(f"\ue000{nonce}")

    def node(self, value: Any) -> Any:
        if isinstance(value, dict):
            compiled: dict[str, Any] = {}
            for name, child in value.items():
                if self._any.search(name):
                    raise _invalid("Claim names in an M2M template cannot use placeholders.")
                compiled[name] = self.node(child)
            return compiled
        if isinstance(value, list):
            return [self.node(child) for child in value]
        if not isinstance(value, str):
            return value
        whole = self._whole.fullmatch(value)
        if whole is not None:
            return _Param(self._names[int(whole.group(1))])
        pieces = self._inline.split(value)
        if len(pieces) == 1:
            return value
        # split() alternates literal text and the captured placeholder index.
        parts = tuple(
            _Param(self._names[int(piece)]) if position % 2 else piece
            for position, piece in enumerate(pieces)
            if position % 2 or piece
        )
        return _Text(parts)


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value, ensure_ascii=False)


def _render(node: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        return {
            name: _render(child, params)
            for name, child in node.items()
            if not (isinstance(child, _Param) and child.name not in params)
        }
    if isinstance(node, list):
        return [_render(child, params) for child in node]
    if isinstance(node, _Param):
        return params.get(node.name)
    if isinstance(node, _Text):
        return "".join(
            _text_of(params.get(part.name)) if isinstance(part, _Param) else part
            for part in node.parts
        )
    return node


def _parameters(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [name for child in node.values() for name in _parameters(child)]
    if isinstance(node, list):
        return [name for child in node for name in _parameters(child)]
    if isinstance(node, _Param):
        return [node.name]
    if isinstance(node, _Text):
        return [part.name for part in node.parts if isinstance(part, _Param)]
    return []


@dataclass(frozen=True, slots=True)
class ClaimsTemplate:
    """A checked M2M template: its text, its audience, and its compiled form."""

    template_content: str
    custom_audience: str | None
    root: Mapping[str, Any]

    @property
    def parameters(self) -> frozenset[str]:
        """The request parameters the template reads."""
        return frozenset(_parameters(self.root))

    def to_json(self) -> dict[str, Any]:
        """The wire shape of a JWT template."""
        return {
            "template_type": TEMPLATE_TYPE,
            "template_content": self.template_content,
            "custom_audience": self.custom_audience,
        }

    def render(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The custom claims minted for a token request's extra parameters."""
        claims = _render(self.root, params)
        try:
            return custom_claims_value(claims)
        except BadRequestError as exc:
            raise BadRequestError(f"The custom claims cannot be minted: {exc.message}") from exc


EMPTY_TEMPLATE = ClaimsTemplate("", None, {})


def _audience_value(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_AUDIENCE or not value.isprintable():
        raise _invalid(
            f"custom_audience must be a printable string of at most {MAX_AUDIENCE} characters."
        )
    return value


def compile_template(template_content: object, custom_audience: object = None) -> ClaimsTemplate:
    """Check and compile a template; :class:`BadRequestError` when it is unusable.

    An empty ``template_content`` is no template: extra parameters mint nothing.
    """
    if not isinstance(template_content, str):
        raise _invalid("template_content must be a string.")
    audience = _audience_value(custom_audience)
    if not template_content.strip():
        return ClaimsTemplate("", audience, {})
    if len(template_content.encode("utf-8", "surrogatepass")) > MAX_TEMPLATE_BYTES:
        raise _invalid(f"template_content must be at most {MAX_TEMPLATE_BYTES} bytes.")
    nonce = secrets.token_hex(16)
    text, names = _replace_placeholders(template_content, nonce)
    try:
        parsed = json.loads(text, parse_constant=reject_json_constant)
    except (ValueError, RecursionError) as exc:
        raise _invalid(
            "template_content is not JSON (with {{ request.<parameter> }} placeholders)."
        ) from exc
    if not isinstance(parsed, dict):
        raise _invalid("template_content must be a JSON object.")
    try:
        check_depth(parsed, "template_content")
    except BadRequestError as exc:
        raise _invalid(exc.message) from exc
    forbidden = sorted(name for name in parsed if name.lower() in _FORBIDDEN)
    if forbidden:
        raise _invalid(
            f"An M2M template cannot set the reserved or authority claim(s) "
            f"{', '.join(map(repr, forbidden))}."
        )
    root = _Compiler(nonce, names).node(parsed)
    return ClaimsTemplate(template_content, audience, root)


class TemplateStore:
    """The project's M2M template, kept in the issuer database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cached: ClaimsTemplate | None = None  # compiled once per stored text

    def get(self) -> ClaimsTemplate:
        """The current template (:data:`EMPTY_TEMPLATE` when none is set)."""
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT template_content, custom_audience FROM jwt_templates "
                "WHERE template_type = ?",
                (TEMPLATE_TYPE,),
            ).fetchone()
        if row is None:
            return EMPTY_TEMPLATE
        cached = self._cached
        if cached is not None and (cached.template_content, cached.custom_audience) == tuple(row):
            return cached
        self._cached = compile_template(row[0], row[1])
        return self._cached

    def set(self, template: ClaimsTemplate, *, now: float) -> ClaimsTemplate:
        """Store a compiled template, replacing the previous one."""
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO jwt_templates (template_type, template_content, custom_audience, "
                "updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (template_type) DO UPDATE SET "
                "template_content = excluded.template_content, "
                "custom_audience = excluded.custom_audience, updated_at = excluded.updated_at",
                (TEMPLATE_TYPE, template.template_content, template.custom_audience, now),
            )
        return template
