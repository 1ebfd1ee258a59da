"""``GET /``: the live demo page."""

from pathlib import Path

from litestar import get
from litestar.response import File

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


@get("/", include_in_schema=False, cache=False)
async def demo_page() -> File:
    """An EventSource console with a button that requests a report."""
    return File(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", content_disposition_type="inline")
