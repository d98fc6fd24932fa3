"""Who may call the service, from where, with what: bearer tokens and scopes, web origins, body media types.

A browser can be made to send a request to any address a staff member can
reach — a form post or a ``text/plain`` fetch needs no CORS preflight — so
the service takes bodies only as ``application/json`` or ``application/yaml``
(which a page on another origin cannot send without a preflight this service
never grants) and refuses requests that a browser marks as coming from
another site (``Origin``, ``Sec-Fetch-Site``), unless that origin is allowed
by configuration. Clients that are not browsers send neither header.

Tokens are long random strings chosen by whoever runs the service; the token
file keeps only their SHA-256 (a digest of a high-entropy secret needs no slow
hash), so the file can be read without revealing a token. A presented token is
hashed and compared with every entry in constant time.
"""

from __future__ import annotations

import email.message
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..documents import DocumentError, read_yaml
from ..schemas import validator

__all__ = ["BODY_SYNTAX", "SCOPES", "Caller", "ConfigError", "Refusal", "Tokens", "body_syntax", "cross_site", "require", "web_origin"]

SCOPES: dict[str, str] = {
    "decide": "decide orders (decisions, batch, what-if, explanations, case files, reading an order)",
    "read": "read the policy, its catalogue, the example orders and /metrics",
    "admin": "change what is served: reload the policy (and editing rules, when the service offers it)",
}

BODY_SYNTAX = {"application/json": "json", "application/yaml": "yaml"}
"""The media types a request body may have, and how each is read."""

_BEARER = re.compile(r"Bearer +([A-Za-z0-9\-._~+/]+=*) *", re.IGNORECASE)
"""RFC 6750's b64token after the scheme."""


class ConfigError(Exception):
    """The service's own configuration (not the policy) is unusable: each line is file:line:col: code: message."""


class Refusal(Exception):
    """A request refused before its route runs: the status, the ``error`` kind, a message, extra headers."""

    def __init__(self, status: int, error: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Caller:
    """An authenticated client: the token's name (what the decision log records) and its scopes."""

    name: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class Tokens:
    """The tokens of ``--auth-token-file``, by SHA-256 digest."""

    entries: tuple[tuple[bytes, Caller], ...]

    @classmethod
    def load(cls, path: Path) -> Tokens:
        """Read and check the token file; ConfigError with every problem at its line and column."""
        shown = str(path)
        try:
            doc = read_yaml(path.read_bytes(), shown)
        except OSError as exc:
            raise ConfigError(f"{shown}:1:1: not_found: cannot read the token file ({exc.strerror})") from None
        except DocumentError as exc:
            raise ConfigError("\n".join(f"{shown}:{p.line}:{p.column}: {p.code}: {p.message}" for p in exc.problems)) from None
        check = validator("tokens.schema.json")
        if not check.is_valid(doc.data):
            lines = []
            for problem in check.problems(doc.data):
                line, column = doc.locate(problem.pointer)
                lines.append(f"{shown}:{line}:{column}: {problem.keyword}: {problem.pointer or '/'}: {problem.message}")
            raise ConfigError("\n".join(lines))
        entries: list[tuple[bytes, Caller]] = []
        seen: dict[str, str] = {}
        problems = []
        for index, spec in enumerate(doc.data["tokens"]):
            digest = spec["sha256"].lower()
            for key, what in ((spec["name"], "name"), (digest, "sha256")):
                if key in seen:
                    line, column = doc.locate(f"/tokens/{index}/{what}")
                    problems.append(f"{shown}:{line}:{column}: duplicate: /tokens/{index}/{what}: the same {what} as {seen[key]}")
                seen[key] = f"/tokens/{index}"
            entries.append((bytes.fromhex(digest), Caller(spec["name"], frozenset(spec["scopes"]))))
        if problems:
            raise ConfigError("\n".join(problems))
        return cls(tuple(entries))

    def caller(self, authorization: str | None) -> Caller:
        """The caller a request's Authorization header names; Refusal(401) without a known bearer token."""
        challenge = 'Bearer realm="ruleengine"'
        if not authorization:
            raise Refusal(
                401, "unauthorized", "this service needs a bearer token: Authorization: Bearer TOKEN", {"www-authenticate": challenge}
            )
        match = _BEARER.fullmatch(authorization)
        if match is None:
            raise Refusal(
                401,
                "unauthorized",
                "the Authorization header must be: Bearer TOKEN",
                {"www-authenticate": challenge + ', error="invalid_request"'},
            )
        presented = hashlib.sha256(match.group(1).encode("ascii")).digest()
        found: Caller | None = None
        for digest, caller in self.entries:  # every entry is compared, so the time does not tell which one matched
            if hmac.compare_digest(presented, digest):
                found = caller
        if found is None:
            raise Refusal(401, "unauthorized", "unknown bearer token", {"www-authenticate": challenge + ', error="invalid_token"'})
        return found


def require(caller: Caller, scope: str) -> None:
    if scope not in caller.scopes:
        raise Refusal(
            403,
            "insufficient_scope",
            f"the token {caller.name!r} lacks the scope {scope!r} this route needs (it has: {', '.join(sorted(caller.scopes)) or 'none'})",
            {"www-authenticate": f'Bearer realm="ruleengine", error="insufficient_scope", scope="{scope}"'},
        )


def cross_site(headers: Mapping[str, str], allowed: frozenset[str]) -> None:
    """Refusal(403) for a request a browser sent from a page of another origin that is not in ``allowed``."""
    origin = headers.get("origin")
    if origin is not None:
        if origin in allowed:
            return
        host = (headers.get("host") or "").lower()
        if origin != "null" and urlsplit(origin.lower()).netloc == host:
            return  # the page this service served
        raise Refusal(
            403,
            "cross_site",
            f"requests from pages of {origin} are refused; allow an origin with ruleengine serve --allow-origin",
        )
    site = headers.get("sec-fetch-site")
    if site is not None and site.lower() not in ("same-origin", "none"):
        raise Refusal(403, "cross_site", f"a {site} request from a browser is refused; allow its origin with --allow-origin")


def web_origin(text: str) -> str | None:
    """``text`` as the Origin header a browser sends (lower-case scheme://host[:port]), or None if it is not one."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def body_syntax(headers: Mapping[str, str]) -> str:
    """How to read the body ("json" or "yaml"), or Refusal(415) for any other media type, charset or encoding."""
    encoding = headers.get("content-encoding")
    if encoding is not None and encoding.strip().lower() not in ("", "identity"):
        raise Refusal(415, "unsupported_media_type", f"Content-Encoding {encoding!r} is not supported: send the body uncompressed")
    content_type = headers.get("content-type")
    if content_type is None:
        raise Refusal(415, "unsupported_media_type", "the body needs Content-Type: application/json (or application/yaml)")
    parsed = email.message.Message()
    parsed["content-type"] = content_type
    media = parsed.get_content_type()
    charset = parsed.get_param("charset")
    if media not in BODY_SYNTAX or (charset is not None and str(charset).lower() not in ("utf-8", "utf8")):
        raise Refusal(
            415,
            "unsupported_media_type",
            f"Content-Type {content_type!r} is not accepted: send application/json or application/yaml (UTF-8)",
        )
    return BODY_SYNTAX[media]
