"""Checks of session revocation that every broker mode runs against real servers."""

import asyncio
import time
import uuid

import httpx

from infrastructure.auth import TokenService


async def wall_clock_reaches(instant: float) -> None:
    """Return once the wall clock (what ``exp`` is compared with) has passed ``instant``."""
    while (left := instant - time.time()) > 0:
        await asyncio.sleep(left)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _refused_as_revoked(client: httpx.AsyncClient, method: str, url: str, token: str) -> None:
    response = await client.request(method, url, headers=_bearer(token))
    assert response.status_code == 401, f"{method} {url} on {client.base_url}: {response.status_code}"
    assert "revoked" in response.json()["detail"], response.text


async def check_a_logout_outlasts_every_token_of_its_session(
    revoke_on: httpx.AsyncClient, check_on: list[httpx.AsyncClient], tokens: TokenService, *, leeway_seconds: float
) -> str:
    """Log out with a short-lived token; then neither it (within the leeway) nor a refreshed token of the
    same session (a later ``exp``) is taken anywhere, even once the token that logged out has expired.

    Returns the session id.
    """
    user, session_id = uuid.uuid4(), f"refreshed-{uuid.uuid4()}"
    # Long enough to log out with on a busy machine (``exp`` is cut to whole seconds).
    asking = tokens.issue(user, session_id=session_id, lifetime_seconds=3)
    refreshed = tokens.issue(user, session_id=session_id, lifetime_seconds=600)
    expires = tokens.verify(asking).expires_at.timestamp()
    assert (await revoke_on.delete(f"/api/v1/sessions/{session_id}", headers=_bearer(asking))).status_code == 204

    await wall_clock_reaches(expires + 0.1)  # expired, but within the leeway: its signature and times still pass
    for client in check_on:
        await _refused_as_revoked(client, "GET", "/api/v1/reports", asking)
        await _refused_as_revoked(client, "POST", "/api/v1/events/tickets", asking)
    assert time.time() < expires + leeway_seconds, "too slow to check within the leeway; raise it"

    await wall_clock_reaches(expires + leeway_seconds + 0.1)  # the token that logged out is gone for good
    for client in check_on:
        for method, url in (
            ("GET", "/api/v1/reports"),
            ("GET", "/api/v1/events"),
            ("POST", "/api/v1/events/tickets"),
            ("POST", "/api/v1/events/cookie"),
        ):
            await _refused_as_revoked(client, method, url, refreshed)
    return session_id
