"""The one body every error answers with: an RFC 9457 problem document, as the OpenAPI document names it."""

import msgspec


class Problem(msgspec.Struct, kw_only=True):
    """What went wrong: the status phrase as ``title``, and what to do about it in ``detail`` when there is any."""

    type: str = "about:blank"
    """A URI naming the kind of problem; ``about:blank`` (or absent) means the status says it all."""
    title: str
    status: int
    detail: str | msgspec.UnsetType = msgspec.UNSET
    extra: list[dict[str, object]] | dict[str, object] | msgspec.UnsetType = msgspec.UNSET
    """For a parameter or body that failed validation: which one (``key``, ``source``) and why (``message``)."""
