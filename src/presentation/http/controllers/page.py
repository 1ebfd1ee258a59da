"""``GET /``: the live demo page, under a Content-Security-Policy that allows exactly its own code, and
``GET /static/herald-client.js``: the TypeScript client's bundle it imports (``make clients`` builds it)."""

import base64
import hashlib
import re
from pathlib import Path

from litestar import Response, get

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
PAGE = STATIC_DIR / "index.html"
CLIENT_BUNDLE = STATIC_DIR / "herald-client.js"


def _hashes(html: str, tag: str) -> str:
    """CSP source expressions for every inline ``<tag>`` block of the page."""
    blocks = re.findall(rf"<{tag}(?: type=\"module\")?>(.*?)</{tag}>", html, flags=re.DOTALL)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in blocks)


def content_security_policy(html: str) -> str:
    """Nothing but the page's own inline script and style, scripts of its own origin (the client's bundle:
    every other response of the origin is JSON or an event stream, which ``nosniff`` keeps from running), and
    requests to its own origin; never framed."""
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {_hashes(html, 'script')}",
            f"style-src {_hashes(html, 'style')}",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


_HTML = PAGE.read_text(encoding="utf-8")
_HEADERS = {"Content-Security-Policy": content_security_policy(_HTML)}
_BUNDLE = CLIENT_BUNDLE.read_bytes()


@get("/", include_in_schema=False, cache=False)
async def demo_page() -> Response[str]:
    """An EventSource console with a button that requests a report."""
    return Response(_HTML, media_type="text/html; charset=utf-8", headers=_HEADERS)


@get("/static/herald-client.js", include_in_schema=False, cache=False)
async def client_bundle() -> Response[bytes]:
    """The client's ES module, revalidated on each load so a new release of it is taken at once."""
    return Response(_BUNDLE, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "no-cache"})
