"""The registry refuses contradictory entries with a message that names the problem."""

import sys
import textwrap
import uuid
from pathlib import Path

import attrs
import pytest

from domain.events import DomainEvent, ReportCompleted, ReportRequested
from domain.registry import REGISTRY, DomainToSSEMapping, EventRegistry, RegistryError
from domain.sse import SSECategory, to_everyone, user_field


@attrs.frozen(kw_only=True)
class ThingHappened(DomainEvent):
    user_id: uuid.UUID
    name: str


def mapping(**overrides: object) -> DomainToSSEMapping:
    values: dict[str, object] = {
        "domain_event": ThingHappened,
        "sse_event_type": "thing.happened",
        "category": SSECategory.REPORTS,
        "description": "A thing happened.",
    }
    values.update(overrides)
    return DomainToSSEMapping(**values)  # type: ignore[arg-type]


def test_the_service_registry_maps_the_sample_domain() -> None:
    # Subsets, not counts: a service that adds its own events keeps this test green.
    by_type = {m.sse_event_type: m for m in REGISTRY}
    reports = {name for name, m in by_type.items() if m.category is SSECategory.REPORTS}
    assert {"report.requested", "report.progress", "report.completed", "report.failed"} <= reports
    assert by_type["report.completed"].domain_event is ReportCompleted
    assert by_type["system.announcement"].category is SSECategory.SYSTEM
    assert REGISTRY.mappings_for(ReportRequested)[0].audience_field() == "owner_id"


def test_statistics_count_mappings_classes_broadcasts_and_categories() -> None:
    @attrs.frozen(kw_only=True)
    class Notice(DomainEvent):
        text: str

    shared: dict[str, object] = {"shares_domain_event": True, "user_id_extractor": to_everyone}
    registry = EventRegistry(
        [
            mapping(),
            mapping(domain_event=Notice, sse_event_type="notice.posted", **shared),
            mapping(domain_event=Notice, sse_event_type="notice.kept", category=SSECategory.SYSTEM, **shared),
        ]
    )
    stats = registry.statistics()
    assert (stats.mappings, stats.domain_event_classes, stats.broadcast_mappings) == (3, 2, 2)
    assert stats.by_category == {SSECategory.REPORTS: 2, SSECategory.SYSTEM: 1}


def test_a_one_line_entry_uses_the_user_id_field_and_the_default_payload() -> None:
    entry = mapping()
    registry = EventRegistry([entry])
    assert registry.mappings_for(ThingHappened) == (entry,)
    assert entry.audience_field() == "user_id"
    assert entry.payload_extractor is None


def test_duplicate_sse_event_types_are_refused() -> None:
    @attrs.frozen(kw_only=True)
    class OtherThing(DomainEvent):
        user_id: uuid.UUID

    with pytest.raises(RegistryError, match=r"'thing\.happened' is mapped 2 times"):
        EventRegistry([mapping(), mapping(domain_event=OtherThing)])


def test_two_mappings_of_one_class_need_stated_intent() -> None:
    with pytest.raises(RegistryError, match=r"ThingHappened is mapped to several SSE events.*shares_domain_event"):
        EventRegistry([mapping(), mapping(sse_event_type="thing.audited")])
    intended = EventRegistry(
        [
            mapping(shares_domain_event=True),
            mapping(sse_event_type="thing.audited", shares_domain_event=True, user_id_extractor=to_everyone),
        ]
    )
    assert len(intended.mappings_for(ThingHappened)) == 2


def test_unknown_category_names_the_valid_ones() -> None:
    valid = ", ".join(c.value for c in SSECategory)
    with pytest.raises(RegistryError, match=f"unknown category 'no_such_category'; valid categories: {valid}$"):
        EventRegistry([mapping(category="no_such_category")])


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("Thing.Happened", "dotted lower-case"),
        ("thing", "dotted lower-case"),
        ("thing.happened\nevent: admin", "dotted lower-case"),
        ("stream.reset", "reserved"),
    ],
)
def test_event_types_must_be_safe_dotted_names(event_type: str, expected: str) -> None:
    with pytest.raises(RegistryError, match=expected):
        EventRegistry([mapping(sse_event_type=event_type)])


def test_the_audience_field_must_exist_on_the_class() -> None:
    with pytest.raises(RegistryError, match="ThingHappened has no field 'owner_id'"):
        EventRegistry([mapping(user_id_extractor=user_field("owner_id"))])


@attrs.frozen
class ThingSummary:
    name_length: int


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"payload_extractor": lambda e: {"name_length": len(e.name)}}, "a payload_extractor needs payload_type="),
        ({"payload_type": ThingSummary}, "payload_type describes a payload_extractor's result"),
        ({"payload_extractor": dict, "payload_type": dict}, "payload_type must be an attrs class"),
        ({"payload_extractor": dict, "payload_type": ThingHappened}, "declares event_id, occurred_at"),
    ],
)
def test_a_custom_payload_declares_its_type(overrides: dict[str, object], expected: str) -> None:
    with pytest.raises(RegistryError, match=expected):
        EventRegistry([mapping(**overrides)])
    described = mapping(payload_extractor=lambda e: {"name_length": len(e.name)}, payload_type=ThingSummary)
    assert EventRegistry([described]).mappings_for(ThingHappened) == (described,)


def test_only_domain_events_can_be_mapped() -> None:
    with pytest.raises(RegistryError, match="must be a DomainEvent subclass"):
        EventRegistry([mapping(domain_event=dict)])


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(RegistryError) as raised:
        EventRegistry([mapping(category="no_such_category", description=" ")])
    assert "unknown category" in str(raised.value)
    assert "description is required" in str(raised.value)


def test_a_bad_registry_fails_when_its_module_is_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "broken_catalogue.py"
    module.write_text(
        textwrap.dedent(
            """
            from domain.events import ReportRequested
            from domain.registry import DomainToSSEMapping, EventRegistry
            from domain.sse import SSECategory

            REGISTRY = EventRegistry([
                DomainToSSEMapping(domain_event=ReportRequested, sse_event_type="report.requested",
                                   category=SSECategory.REPORTS, description="Requested."),
            ])
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RegistryError, match="ReportRequested has no field 'user_id'"):
        __import__("broken_catalogue")
    sys.modules.pop("broken_catalogue", None)
