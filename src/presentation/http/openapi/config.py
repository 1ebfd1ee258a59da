"""Litestar's ``OpenAPIConfig`` for Herald: where the document is served, and the credentials it names."""

from litestar.openapi import OpenAPIConfig

from presentation.http.openapi.security import components

#: Where the document is served (``/schema/openapi.json``), beside the AsyncAPI document.
SCHEMA_PATH = "/schema"


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(title="Herald", version="0.1.0", path=SCHEMA_PATH, components=components())
