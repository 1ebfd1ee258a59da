"""One user cannot grow the reports without bound: a request rate, a quota of unfinished reports, and a list
read a page at a time, on SQLite and on PostgreSQL, over real HTTP."""

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from infrastructure.container import Container
from tests.integration.helpers import eventually
from tests.support.server import RunningHerald, serve


@pytest.fixture
def served(make_container: Callable[..., Container]) -> Callable[..., Any]:
    """Serve a container with these settings, and a client for it."""

    def serving(**settings: Any) -> Any:
        return _Serving(make_container(**settings))

    return serving


class _Serving:
    def __init__(self, container: Container) -> None:
        self._serve = serve(container)

    async def __aenter__(self) -> tuple[RunningHerald, httpx.AsyncClient, Callable[[uuid.UUID], dict[str, str]]]:
        self._running = await self._serve.__aenter__()
        self._client = httpx.AsyncClient(base_url=self._running.base_url, timeout=10)
        tokens = self._running.container.token_service()
        return self._running, self._client, lambda user: {"Authorization": f"Bearer {tokens.issue(user)}"}

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._serve.__aexit__(*exc)


async def request(client: httpx.AsyncClient, headers: dict[str, str], title: str = "t") -> httpx.Response:
    return await client.post("/api/v1/reports", json={"title": title}, headers=headers)


def assert_problem(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    detail = response.json()["detail"]
    for word in words:
        assert word in detail


async def test_a_user_with_as_many_unfinished_reports_as_allowed_gets_429_until_one_finishes(
    served: Callable[..., Any], database_url: str
) -> None:
    # Steps long enough that nothing finishes while the quota is filled; the requests arrive all at once.
    settings = {"database_url": database_url, "reports_unfinished_per_user": 3, "report_step_seconds": 30}
    async with served(**settings) as (_, client, auth):
        user, other = uuid.uuid4(), uuid.uuid4()
        answers = await asyncio.gather(*(request(client, auth(user), f"r{n}") for n in range(8)))
        assert sorted(answer.status_code for answer in answers) == [202] * 3 + [429] * 5
        refused = next(answer for answer in answers if answer.status_code == 429)
        assert_problem(refused, 429, "3 unfinished reports")
        assert int(refused.headers["Retry-After"]) >= 1
        assert (await request(client, auth(other))).status_code == 202  # the quota is each user's own
        listed = (await client.get("/api/v1/reports", headers=auth(user))).json()["reports"]
        assert len(listed) == 3  # a refused request stored nothing


async def test_finished_reports_do_not_count_against_the_quota(served: Callable[..., Any]) -> None:
    async with served(reports_unfinished_per_user=2) as (_, client, auth):
        user = uuid.uuid4()
        for n in range(2):
            assert (await request(client, auth(user), f"r{n}")).status_code == 202

        async def all_finished() -> bool:
            listed = (await client.get("/api/v1/reports", headers=auth(user))).json()["reports"]
            return all(report["status"] == "completed" for report in listed)

        await eventually(all_finished)
        assert (await request(client, auth(user), "after")).status_code == 202


async def test_a_user_requesting_faster_than_the_rate_gets_429_with_retry_after(served: Callable[..., Any]) -> None:
    async with served(reports_per_minute=4, reports_unfinished_per_user=100) as (_, client, auth):
        user = uuid.uuid4()
        for n in range(4):
            assert (await request(client, auth(user), f"r{n}")).status_code == 202
        refused = await request(client, auth(user))
        assert_problem(refused, 429, "too many report requests")
        assert 1 <= int(refused.headers["Retry-After"]) <= 15
        assert (await request(client, auth(uuid.uuid4()))).status_code == 202


Listing = tuple[httpx.AsyncClient, Callable[[uuid.UUID], dict[str, str]], uuid.UUID, list[str]]


@pytest.fixture
async def listing(make_container: Callable[..., Container], database_url: str) -> AsyncIterator[Listing]:
    """A server on each database, and a user with seven reports (their ids, newest first)."""
    container = make_container(database_url=database_url, reports_per_minute=100, reports_unfinished_per_user=100)
    tokens = container.token_service()

    def auth(user: uuid.UUID) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens.issue(user)}"}

    async with serve(container) as running, httpx.AsyncClient(base_url=running.base_url, timeout=10) as client:
        owner = uuid.uuid4()
        ids = [(await request(client, auth(owner), f"r{n}")).json()["report_id"] for n in range(7)]
        yield client, auth, owner, ids[::-1]


async def test_the_list_comes_a_page_at_a_time_newest_first_each_report_once(
    listing: Listing,
) -> None:
    client, auth, owner, newest_first = listing
    headers = auth(owner)
    pages, cursor = [], None
    while True:
        params: dict[str, str | int] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/v1/reports", params=params, headers=headers)
        assert response.status_code == 200
        body = response.json()
        assert body["position"] is not None
        pages.append([report["report_id"] for report in body["reports"]])
        cursor = body["next"]
        if cursor is None:
            break
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [report for page in pages for report in page] == newest_first
    whole = (await client.get("/api/v1/reports", headers=headers)).json()  # the default page holds all seven
    assert ([report["report_id"] for report in whole["reports"]], whole["next"]) == (newest_first, None)


async def test_a_report_requested_while_paging_does_not_shift_the_pages(
    listing: Listing,
) -> None:
    client, auth, owner, newest_first = listing
    headers = auth(owner)
    first = (await client.get("/api/v1/reports", params={"limit": 3}, headers=headers)).json()
    await request(client, headers, "meanwhile")
    second = await client.get("/api/v1/reports", params={"limit": 3, "cursor": first["next"]}, headers=headers)
    assert [report["report_id"] for report in second.json()["reports"]] == newest_first[3:6]


async def test_a_cursor_from_another_users_list_reads_only_the_callers_own(listing: Listing) -> None:
    client, auth, owner, _ = listing
    cursor = (await client.get("/api/v1/reports", params={"limit": 1}, headers=auth(owner))).json()["next"]
    response = await client.get("/api/v1/reports", params={"cursor": cursor}, headers=auth(uuid.uuid4()))
    assert response.status_code == 200
    assert response.json()["reports"] == []


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "-1"},
        {"limit": "abc"},
        {"limit": "1.5"},
        {"limit": ""},
        {"limit": "9" * 40},
        {"cursor": ""},
        {"cursor": "x" * 129},
    ],
)
async def test_a_limit_or_cursor_outside_the_documented_bounds_is_a_400_problem(
    served: Callable[..., Any], params: dict[str, str]
) -> None:
    async with served() as (_, client, auth):
        response = await client.get("/api/v1/reports", params=params, headers=auth(uuid.uuid4()))
        assert_problem(response, 400)


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        "\u00b6+\u00bf\U00090e42A",  # not ASCII: once a 500
        _cursor("12.not-a-uuid"),
        _cursor(f"{'9' * 18}.{'0' * 32}"),  # beyond the year 9999
        _cursor(f"-5.{'0' * 32}"),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
async def test_a_cursor_herald_did_not_write_names_no_page_a_404_problem_never_a_500(
    served: Callable[..., Any], cursor: str
) -> None:
    """Any text within the bounds is a cursor as far as the document can say: one Herald did not write names no page."""
    async with served() as (_, client, auth):
        response = await client.get("/api/v1/reports", params={"cursor": cursor}, headers=auth(uuid.uuid4()))
        assert_problem(response, 404, "no such page")
