"""Who may use a map served beyond loopback: a bearer token or HTTP basic auth.

Credentials come from the environment (``TOPOMAP_TOKEN``, ``TOPOMAP_BASIC_AUTH`` as
``user:password``) or from a file (``--token-file``, ``--basic-auth-file``: the first line).
:func:`refusal` refuses to serve a non-loopback address without them. :func:`install` adds a
check before every request of the Flask server: a token is accepted as ``Authorization:
Bearer <token>``, as the ``topomap_token`` cookie, or once as ``?token=<token>``, which sets
that cookie (HttpOnly, SameSite=Strict) so the page's own requests carry it; basic auth is
the browser's usual prompt. Secrets are compared in constant time. Every response also gets
headers that stop the page being framed or sniffed. No dash here: only Flask's request hooks.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask

from topomap.errors import InputError

COOKIE = "topomap_token"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class Credentials:
    """A token, a ``user:password`` pair, or both."""

    token: str | None = None
    basic: str | None = None

    def __bool__(self) -> bool:
        return bool(self.token or self.basic)


def _first_line(path: str, what: str) -> str:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise InputError(f"{path}: the {what} file is empty")
    return secret


def credentials(
    *, token_file: str | None = None, basic_auth_file: str | None = None
) -> Credentials:
    """Credentials from the files given, else from the environment."""
    token = _first_line(token_file, "token") if token_file else os.environ.get("TOPOMAP_TOKEN")
    basic = (
        _first_line(basic_auth_file, "basic auth")
        if basic_auth_file
        else os.environ.get("TOPOMAP_BASIC_AUTH")
    )
    if basic is not None and ":" not in basic:
        raise InputError("basic auth must be given as user:password")
    return Credentials(token=token or None, basic=basic or None)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback  # noqa: TID251 - a bind address, not a peer
    except ValueError:
        return False


def refusal(host: str, creds: Credentials) -> str | None:
    """Why serving ``host`` is refused (beyond loopback without credentials), else ``None``."""
    if is_loopback(host) or creds:
        return None
    return (
        f"--host {host}: serving beyond loopback needs authentication: set TOPOMAP_TOKEN "
        "or TOPOMAP_BASIC_AUTH=user:password, or pass --token-file or --basic-auth-file"
    )


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def authorised(request: flask.Request, creds: Credentials) -> tuple[bool, bool]:
    """Whether the request may pass, and whether it passed by ``?token=`` (set the cookie)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if creds.token:
        if scheme.lower() == "bearer" and _same(value.strip(), creds.token):
            return True, False
        cookie = request.cookies.get(COOKIE)
        if cookie and _same(cookie, creds.token):
            return True, False
        query = request.args.get("token")
        if query and _same(query, creds.token):
            return True, True
    if creds.basic and scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False, False
        if _same(decoded, creds.basic):
            return True, False
    return False, False


def install(server: flask.Flask, creds: Credentials) -> None:
    """Check every request against ``creds`` (when there are any) and harden responses."""

    @server.before_request
    def check() -> Any:
        if not creds:
            return None
        ok, by_query = authorised(flask.request, creds)
        if not ok:
            response = flask.Response(
                "authentication required\n", status=401, mimetype="text/plain"
            )
            if creds.basic:
                response.headers["WWW-Authenticate"] = 'Basic realm="topomap"'
            return response
        if by_query:
            flask.g.topomap_set_cookie = True
        return None

    @server.after_request
    def harden(response: flask.Response) -> flask.Response:
        if creds.token and flask.g.get("topomap_set_cookie"):
            response.set_cookie(COOKIE, creds.token, httponly=True, samesite="Strict")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response
