"""``herald events show``: asks a running service what happened to one event, and prints the answer as text.

It calls ``GET /api/v1/admin/events/{event_id}`` rather than reading the database and the broker itself:
with the embedded broker only the serving process knows its streams, and on Redis any process answers for
every process. Run it where the service runs (a shell in its container): it finds the service at its own
address and, when the service signs its own tokens, makes itself a short-lived admin token with the
service's secret. Elsewhere, pass ``--url`` and an admin ``--token`` (or ``HERALD_ADMIN_TOKEN``).
"""

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any


class ReportError(Exception):
    """The question could not be asked or answered; the message says why (and what to do)."""


def fetch(url: str, event_id: str, token: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """The service's answer for ``event_id``."""
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own (http or https)
        f"{url.rstrip('/')}/api/v1/admin/events/{urllib.parse.quote(event_id, safe='')}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read()).get("detail", error.reason)
        except ValueError:
            detail = error.reason
        raise ReportError(f"{error.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as error:
        raise ReportError(f"the service at {url} cannot be reached ({error})") from None


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _after(moment: str | None, start: datetime | None) -> str:
    at = _at(moment)
    if at is None:
        return "never"
    return f"{at.isoformat(timespec='milliseconds')}" + (
        f" (+{(at - start).total_seconds() * 1000:.0f} ms)" if start is not None else ""
    )


def render(answer: dict[str, Any]) -> str:
    """The answer as lines an on-call engineer reads top to bottom: commit, relay, audience, deliveries."""
    lines = [f"event {answer['event_id']}"]
    outbox = answer["outbox"]
    committed = _at(outbox["committed_at"]) if outbox else None
    if outbox is None:
        lines.append("outbox      none: an ephemeral event, or its row is older than the outbox keeps")
    else:
        lines.append(f"committed   {_after(outbox['committed_at'], None)}  ({outbox['domain_event']})")
        tried = f"{outbox['attempts']} attempt(s), first {_after(outbox['first_tried_at'], committed)}"
        lines.append(f"relayed     {tried}; published {_after(outbox['published_at'], committed)}")
        if outbox["failure"]:
            lines.append(f"            set aside: {outbox['failure']}")
    for item in answer["audience"]:
        users = ", ".join(f"user {user}" for user in item["users"])
        who = (
            "everyone"
            if item["broadcast"]
            else " and ".join(p for p in (users, item["group"] and f"group {item['group']}") if p)
        )
        lines.append(f"audience    {item['event_type']} [{item['category']}] → {who}")
        for place in item["logs"]:
            lines.append(f"  log {place['log']}: {place['position'] or '-'} — {place['note']}")
    lines.append(f"deliveries  in the last {answer['window_seconds']:g} s:")
    if not answer["deliveries"]:
        lines.append("  none: no process fanned it out to a stream of its audience (none was open), or not yet")
    for delivery in answer["deliveries"]:
        lines.append(
            f"  {delivery['process']}: queued on {delivery['queued']} stream(s), written to {delivery['written']}, "
            f"fanned out {_after(delivery['first_at'], committed)}, last written {_after(delivery['last_at'], committed)}"
        )
        for reason, count in sorted(delivery["skipped"].items()):
            named_users = [s["user_id"] for s in delivery["skipped_streams"] if s["reason"] == reason]
            more = "…" if len(named_users) < count else ""
            named = f" (users {', '.join(named_users)}{more})" if named_users else ""
            lines.append(f"    not delivered to {count} open stream(s): {reason}{named}")
    return "\n".join(lines) + "\n"
