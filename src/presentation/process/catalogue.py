"""The event catalogue as Markdown, generated from the registry (never written by hand)."""

from domain.registry import DomainToSSEMapping, EventRegistry

HEADER = """# Event catalogue

Generated from the registry by `herald registry`; `make test` fails when this
file and the registry disagree. Regenerate it with
`.venv/bin/herald registry > docs/events.md`.

| SSE event type | category | audience | domain event | description |
|---|---|---|---|---|
"""


def catalogue_markdown(registry: EventRegistry) -> str:
    """One row per mapping, in registry order."""
    rows = []
    for mapping in registry:
        audience = _audience(mapping)
        rows.append(
            f"| `{mapping.sse_event_type}` | `{mapping.category.value}` | {audience} "
            f"| `{mapping.domain_event.__name__}` | {mapping.description} |"
        )
    stats = registry.statistics()
    footer = f"\n{stats.mappings} mappings from {stats.domain_event_classes} domain event classes.\n"
    return HEADER + "\n".join(rows) + "\n" + footer


def _audience(mapping: DomainToSSEMapping) -> str:
    if mapping.is_broadcast:
        return "everyone"
    parts = []
    if mapping.user_id_extractor is not None:
        parts.append(f"`{mapping.audience_field() or 'custom'}`")
    if (group := mapping.group_extractor) is not None:
        kind = group.kind.value if group.kind is not None else f"`{group.kind_field}`"
        parts.append(f"{kind} group `{group.field}`")
    return " + ".join(parts)
