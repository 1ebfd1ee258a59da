"""``GET /``: the live demo page, under a Content-Security-Policy that allows exactly its own code."""

import base64
import hashlib
import re
from pathlib import Path

from litestar import Response, get

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
PAGE = STATIC_DIR / "index.html"


def _hashes(html: str, tag: str) -> str:
    """CSP source expressions for every inline ``<tag>`` block of the page."""
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.DOTALL)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in blocks)


def content_security_policy(html: str) -> str:
    """Nothing but the page's own inline script and style, and requests to its own origin; never framed."""
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {_hashes(html, 'script')}",
            f"style-src {_hashes(html, 'style')}",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


_HTML = PAGE.read_text(encoding="utf-8")
_HEADERS = {"Content-Security-Policy": content_security_policy(_HTML)}


@get("/", include_in_schema=False, cache=False)
async def demo_page() -> Response[str]:
    """An EventSource console with a button that requests a report."""
    return Response(_HTML, media_type="text/html; charset=utf-8", headers=_HEADERS)
