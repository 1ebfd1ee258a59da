"""The service's name, written once.

The names the service is known by outside its code — its environment variables, metrics,
stream cookie, command, logger, Redis keys and token issuer — are spelled from :data:`SERVICE`,
so the code has one name to change. A service made from the template with Copier
(docs/forking.md) gets its own name here and in every other file by the template's one rule.
"""

import attrs


@attrs.frozen
class ServiceName:
    """A name as lower-case words joined by hyphens (``acme-notify``), and its other spellings."""

    slug: str

    @property
    def identifier(self) -> str:
        """The name where a hyphen cannot go: metrics, the cookie (``acme_notify``)."""
        return self.slug.replace("-", "_")

    @property
    def title(self) -> str:
        """The name in prose (``Acme Notify``)."""
        return " ".join(word.capitalize() for word in self.slug.split("-"))

    def variable(self, setting: str) -> str:
        """The environment variable of a setting (``ACME_NOTIFY_REDIS_URL`` for ``redis_url``)."""
        return f"{self.identifier.upper()}_{setting.upper()}"

    def metric(self, name: str) -> str:
        """A Prometheus metric's name, in the service's namespace."""
        return f"{self.identifier}_{name}"

    @property
    def stream_cookie(self) -> str:
        """The cookie that carries a browser's stream token."""
        return f"{self.identifier}_stream"


SERVICE = ServiceName("herald")
