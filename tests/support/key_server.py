"""A real OpenID Connect key server on loopback: a discovery document and a JWKS, with keys made per run."""

import collections
import contextlib
import functools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class SigningKey:
    """A private key the provider signs with, and its public half as a JWK.

    The ``generation``-th key of an algorithm is made once per test process and shared by every
    key server (an RSA key takes a while to make); each key server's keys still differ, and each
    key gets a ``kid`` of its own.
    """

    def __init__(self, algorithm: str, generation: int = 0) -> None:
        self.algorithm = algorithm
        self.kid = uuid.uuid4().hex[:12]
        self.private = _private_key(algorithm, generation)
        if algorithm == "RS256":
            jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        elif algorithm == "ES256":
            jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk: dict[str, Any] = {**jwk, "kid": self.kid, "use": "sig"}


@functools.cache
def _private_key(algorithm: str, generation: int) -> PrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(algorithm)


#: Served as they are: bytes as the body, anything else as JSON.
Document = bytes | object


class KeyServer:
    """Serves ``/.well-known/openid-configuration`` and ``/jwks``; keys can be published, withdrawn, or the
    whole server made to fail (as an unreachable provider would), and fetches are counted.

    ``discovery`` and ``jwks``, when set, are served instead of the real documents: a provider that
    answers with a document of another shape (JSON ``null`` is ``b"null"``).
    """

    def __init__(self) -> None:
        self.keys: list[SigningKey] = []
        self._published: collections.Counter[str] = collections.Counter()  # withdrawn keys too
        self.jwks_fetches = 0
        self.down = False
        self.discovery: Document | None = None
        self.jwks: Document | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if server.down:
                    self.send_error(503)
                    return
                body: Document
                if self.path == "/.well-known/openid-configuration":
                    real = {"issuer": server.issuer, "jwks_uri": f"{server.issuer}/jwks"}
                    body = real if server.discovery is None else server.discovery
                elif self.path == "/jwks":
                    server.jwks_fetches += 1
                    body = {"keys": [key.jwk for key in server.keys]} if server.jwks is None else server.jwks
                else:
                    self.send_error(404)
                    return
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        # A short poll: shutdown() waits for the loop's next look, which is every test's teardown.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def publish(self, algorithm: str) -> SigningKey:
        key = SigningKey(algorithm, generation=self._published[algorithm])
        self._published[algorithm] += 1
        self.keys.append(key)
        return key

    def token(self, key: SigningKey, *, audience: str = "herald", **claims: Any) -> str:
        """A token as the provider would sign it: ``iss``, ``aud``, ``exp`` in an hour, ``sub`` a new UUID."""
        now = int(time.time())
        body: dict[str, Any] = {"iss": self.issuer, "aud": audience, "iat": now, "exp": now + 3600}
        body["sub"] = str(uuid.uuid4())
        body.update(claims)
        return jwt.encode(body, key.private, algorithm=key.algorithm, headers={"kid": key.kid})

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@contextlib.contextmanager
def key_server() -> Iterator[KeyServer]:
    server = KeyServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
