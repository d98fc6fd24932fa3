"""Requests a browser cannot forge, callers with an identity, and HTTPS — over real HTTP to ``ruleengine serve``.

A page on another site can make a staff member's browser post to the service
(a form, or a ``text/plain`` fetch that needs no CORS preflight). The service
takes bodies only as JSON or YAML, refuses what a browser marks as cross-site
unless the origin is allowed, and, with ``--auth-token-file``, wants a bearer
token whose scope fits the route; the decision log names the token's holder.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import EXAMPLES, RETURNS
from server_support import Server, running_server

ORDER = (EXAMPLES / "seven-day-return-last-minute-approved.json").read_bytes()
TOKENS = {"checkout": "tok-checkout-7f3a9c1e5b", "auditor": "tok-auditor-0d8e2b4a6c", "operator": "tok-operator-9b1c7e3f5a"}
SCOPES = {"checkout": ["decide"], "auditor": ["read"], "operator": ["decide", "read", "admin"]}
EVIL = "http://evil.example"


def _token_file(path: Path) -> Path:
    lines = ["# ruleengine serve --auth-token-file: the SHA-256 of each token, never the token", "tokens:"]
    for name, token in TOKENS.items():
        digest = hashlib.sha256(token.encode()).hexdigest()
        lines.append(f"  - {{name: {name}, sha256: {digest}, scopes: [{', '.join(SCOPES[name])}]}}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _bearer(name: str) -> dict[str, str]:
    return {"authorization": f"Bearer {TOKENS[name]}"}


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("plain")
    with running_server(folder, "--no-watch", "--decision-log", str(folder / "decisions.jsonl")) as server:
        yield server


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("guarded")
    args = ["--no-watch", "--decision-log", str(folder / "decisions.jsonl"), "--auth-token-file", str(_token_file(folder / "tokens.yaml"))]
    with running_server(folder, *args, "--allow-origin", "https://tools.example") as server:
        yield server


def _post(server: Server, body: bytes = ORDER, path: str = "/v1/decisions", **headers: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=10) as client:  # no default content type: each test says what it sends
        return client.post(path, content=body, headers=headers)


def _log(server: Server) -> list[dict[str, Any]]:
    log = server.log_path.parent / "decisions.jsonl"
    server.wait_for(lambda: log.exists(), what="the decision log")
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


# -- media types


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"content-type": "text/plain"},
        {"content-type": "application/x-www-form-urlencoded"},
        {"content-type": "multipart/form-data; boundary=x"},
        {"content-type": "image/png"},
        {"content-type": "application/json; charset=latin-1"},
        {"content-type": "application/json", "content-encoding": "br"},
    ],
    ids=["none", "text", "form", "multipart", "png", "latin-1", "br"],
)
def test_a_body_that_is_not_json_or_yaml_is_a_415(plain: Server, headers: dict[str, str]) -> None:
    response = _post(plain, **headers)
    assert response.status_code == 415
    body = response.json()
    assert body["error"] == "unsupported_media_type" and body["request_id"] == response.headers["x-request-id"]


def test_a_compressed_body_is_a_415_not_a_garbled_400(plain: Server) -> None:
    response = _post(plain, gzip.compress(ORDER), **{"content-type": "application/json", "content-encoding": "gzip"})
    assert response.status_code == 415 and "Content-Encoding" in response.json()["message"]


def test_json_and_yaml_bodies_are_read_as_their_media_type_says(plain: Server) -> None:
    assert _post(plain, **{"content-type": "application/json; charset=utf-8"}).status_code == 200
    yaml_text = b"order_id: A1\nitems: []\n"
    as_yaml = _post(plain, yaml_text, "/v1/orders/read", **{"content-type": "application/yaml"})
    assert as_yaml.status_code == 200 and as_yaml.json() == {"order_id": "A1", "items": []}
    as_json = _post(plain, yaml_text, "/v1/orders/read", **{"content-type": "application/json"})
    assert as_json.status_code == 400 and as_json.json()["problems"][0]["code"] == "json_syntax"


# -- cross-site requests


def test_a_forged_cross_site_post_is_refused_and_never_decided(plain: Server) -> None:
    before = len(_log(plain)) if (plain.log_path.parent / "decisions.jsonl").exists() else 0
    for headers in (
        {"content-type": "application/json", "origin": EVIL},
        {"content-type": "application/json", "sec-fetch-site": "cross-site"},
        {"content-type": "application/json", "origin": "null"},
        {"content-type": "text/plain", "origin": EVIL},
    ):
        response = _post(plain, **headers)
        assert response.status_code in (403, 415), headers
        assert response.json()["error"] in ("cross_site", "unsupported_media_type")
    assert _post(plain, **{"content-type": "application/json", "origin": EVIL}).json()["error"] == "cross_site"
    # a decision from this service's own page (same origin) and from a client that is not a browser still go through
    same_origin = plain.url.replace("localhost", "127.0.0.1")
    assert _post(plain, **{"content-type": "application/json", "origin": same_origin, "sec-fetch-site": "same-origin"}).status_code == 200
    assert _post(plain, **{"content-type": "application/json"}).status_code == 200
    assert len(_log(plain)) == before + 2  # the refused ones never reached the policy or the log


def test_a_link_from_another_site_still_opens_the_playground(plain: Server) -> None:
    with httpx.Client(base_url=plain.url) as client:
        page = client.get("/", headers={"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"})
        api = client.get("/v1/policy", headers={"sec-fetch-site": "cross-site", "origin": EVIL})
    assert page.status_code == 200
    assert api.status_code == 403 and api.json()["error"] == "cross_site"


def test_an_allowed_origin_gets_cors_answers(guarded: Server) -> None:
    with httpx.Client(base_url=guarded.url) as client:
        preflight = client.options(
            "/v1/decisions",
            headers={
                "origin": "https://tools.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        response = client.post(
            "/v1/decisions",
            content=ORDER,
            headers={"origin": "https://tools.example", "content-type": "application/json", **_bearer("checkout")},
        )
        other = client.options("/v1/decisions", headers={"origin": EVIL, "access-control-request-method": "POST"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://tools.example"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "https://tools.example"
    assert "access-control-allow-origin" not in other.headers and other.status_code >= 400


# -- tokens and scopes


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/v1/decisions", {"checkout", "operator"}),
        ("POST", "/v1/explanations", {"checkout", "operator"}),
        ("GET", "/v1/policy", {"auditor", "operator"}),
        ("GET", "/metrics", {"auditor", "operator"}),
        ("GET", "/v1/examples", {"auditor", "operator"}),
        ("POST", "/v1/policy/reload", {"operator"}),
    ],
)
def test_each_route_needs_its_scope(guarded: Server, method: str, path: str, allowed: set[str]) -> None:
    body = ORDER if method == "POST" and path != "/v1/policy/reload" else None
    with guarded.client() as client:
        anonymous = client.request(method, path, content=body)
        assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        wrong = client.request(method, path, content=body, headers={"authorization": "Bearer not-a-token"})
        assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
        for name in TOKENS:
            response = client.request(method, path, content=body, headers=_bearer(name))
            if name in allowed:
                assert response.status_code == 200, (name, response.text)
            else:
                assert response.status_code == 403, name
                assert response.json()["error"] == "insufficient_scope"
                assert TOKENS[name] not in response.text


def test_health_the_document_and_the_page_need_no_token(guarded: Server) -> None:
    with httpx.Client(base_url=guarded.url) as client:
        for path in ("/healthz", "/readyz", "/openapi.json", "/", "/static/playground.js"):
            assert client.get(path).status_code == 200, path


def test_the_decision_log_names_the_caller_and_never_holds_a_token(guarded: Server) -> None:
    with guarded.client() as client:
        response = client.post("/v1/decisions", content=ORDER, headers={**_bearer("checkout"), "x-request-id": "caller-1"})
        assert response.status_code == 200
        batch = client.post("/v1/decisions/batch", content=b"[" + ORDER + b"]", headers={**_bearer("operator"), "x-request-id": "caller-2"})
        assert batch.status_code == 200
    records = {r["request_id"]: r for r in _log(guarded)}
    guarded.wait_for(lambda: "caller-2/0" in {r["request_id"] for r in _log(guarded)}, what="the batch record")
    records = {r["request_id"]: r for r in _log(guarded)}
    assert records["caller-1"]["caller"] == "checkout"
    assert records["caller-2/0"]["caller"] == "operator"
    text = (guarded.log_path.parent / "decisions.jsonl").read_text(encoding="utf-8")
    assert not any(token in text for token in TOKENS.values())


def test_an_admin_reload_answers_with_the_reload(guarded: Server) -> None:
    with guarded.client() as client:
        response = client.post("/v1/policy/reload", headers=_bearer("operator"))
    assert response.status_code == 200
    result = response.json()
    assert (result["ok"], result["changed"], result["trigger"]) == (True, False, "api")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tokens:\n  - {name: a, sha256: abc, scopes: [decide]}\n", "tokens.yaml:2:"),
        ("tokens:\n  - {name: a, sha256: " + "ab" * 32 + ", scopes: [write]}\n", "scopes"),
        (
            "tokens:\n  - {name: a, sha256: " + "ab" * 32 + ", scopes: [read]}\n  - {name: a, sha256: " + "cd" * 32 + ", scopes: [read]}\n",
            "duplicate",
        ),
        ("tokens: [\n", "tokens.yaml:"),
    ],
    ids=["short-digest", "unknown-scope", "duplicate-name", "broken-yaml"],
)
def test_a_bad_token_file_stops_the_server_with_where_and_why(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "tokens.yaml").write_text(text, encoding="utf-8")
    command = [sys.executable, "-m", "ruleengine.cli", "serve", "--port", "0", "--auth-token-file", "tokens.yaml"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert run.returncode == 2
    assert expected in run.stderr and "Traceback" not in run.stderr


def test_an_allowed_origin_must_be_an_origin(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "ruleengine.cli", "serve", "--port", "0", "--allow-origin", "https://tools.example/app"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert run.returncode == 2 and "--allow-origin" in run.stderr and "Traceback" not in run.stderr


# -- HTTPS


def test_https_with_a_self_signed_certificate(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    certificate.cert_chain_pems[0].write_to_path(str(cert_file))
    certificate.private_key_pem.write_to_path(str(key_file))
    trusted = ssl.create_default_context()
    authority.configure_trust(trusted)
    args = ("--rules", str(RETURNS), "--no-watch", "--ssl-certfile", str(cert_file), "--ssl-keyfile", str(key_file))
    with running_server(tmp_path, *args, verify=trusted) as server:
        assert server.url.startswith("https://")
        with server.client() as client:
            response = client.post("/v1/decisions", content=ORDER)
            assert response.status_code == 200 and response.json()["claim"]["outcome"] == "approved"
        with pytest.raises(httpx.ConnectError), httpx.Client(timeout=5) as untrusting:  # the default trust store does not know the CA
            untrusting.get(server.url + "/healthz")
        with pytest.raises(httpx.TransportError), httpx.Client(timeout=5) as plain:  # and plain HTTP is not spoken
            plain.get(server.url.replace("https://", "http://") + "/healthz")
