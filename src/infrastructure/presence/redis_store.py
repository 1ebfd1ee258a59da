"""Presence on Redis, single node or Cluster: every key of a group lives in the group's partition's slot.

A process renews one lease per partition it holds anyone in, not one per
group or stream, so the upkeep costs the same at ten streams as at ten
thousand; what it holds in a partition's groups stands as long as that
lease does. See :mod:`~infrastructure.presence.redis_scripts` for the keys.
"""

import asyncio
from collections.abc import Awaitable, Collection, Hashable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from redis.asyncio import Redis, RedisCluster
from redis.commands.core import AsyncScript

from application.ports import PresencePage, PresenceUnavailableError, PresentMember
from domain.sse import Group
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.presence import redis_scripts
from infrastructure.presence.store import Change, Changes
from infrastructure.redis_deadline import redis_wait
from infrastructure.redis_errors import REDIS_FAILURE

#: Users per call of the apply script, and processes per call of the reap script: bounded calls.
_USERS_PER_CALL = 500
_PROCESSES_PER_REAP = 16
#: Calls in flight at once on a cluster (it runs no scripts in a pipeline), and per pipeline on a single Redis.
_CALLS_AT_ONCE = 32
_CALLS_PER_PIPELINE = 200


class RedisPresenceStore:
    """``PresenceStore`` on Redis, shared by every process."""

    def __init__(self, client: Redis, keys: RedisKeys, *, timeout_seconds: float) -> None:
        self._client = client
        self._keys = keys
        self._timeout = timeout_seconds
        self._is_cluster = isinstance(client, RedisCluster)
        self._apply = client.register_script(redis_scripts.APPLY)
        self._renew = client.register_script(redis_scripts.RENEW)
        self._depart = client.register_script(redis_scripts.DEPART)
        self._reap = client.register_script(redis_scripts.REAP)
        self._page = client.register_script(redis_scripts.PAGE)

    def partition(self, group: Group) -> Hashable:
        return self._keys.group_tag(group)

    def _space(self, tag: str) -> str:
        return self._keys.presence_space(tag)

    def _leases(self, tag: str) -> str:
        return self._space(tag) + "leases"

    async def apply(self, process: str, changes: Mapping[Group, Mapping[UUID, int]], lease_ms: int) -> Changes:
        calls: list[tuple[AsyncScript, list[str], list[Any]]] = []
        groups: list[tuple[Group, str]] = []
        for group, users in changes.items():
            tag = self._keys.group_tag(group)
            space = self._space(tag) + f"{group}:"
            keys = [
                self._leases(tag),
                self._space(tag) + f"held:{process}",
                space + "users",
                space + "info",
                space + f"by:{process}",
                space + "version",
            ]
            pairs = [item for user_id, streams in users.items() for item in (str(user_id), streams)]
            for start in range(0, len(pairs), 2 * _USERS_PER_CALL):
                calls.append(
                    (self._apply, keys, [process, lease_ms, str(group), *pairs[start : start + 2 * _USERS_PER_CALL]])
                )
                groups.append((group, tag))
        answers = await self._run(calls)
        joined: list[Change] = []
        left: list[Change] = []
        lost = set()
        for (group, tag), (had, came, went) in zip(groups, answers, strict=True):
            if not int(had):
                lost.add(tag)
            joined += _changes(group, came)
            left += _changes(group, went)
        return Changes(tuple(joined), tuple(left), frozenset(lost))

    async def renew(self, process: str, partitions: Collection[Hashable], lease_ms: int) -> Changes:
        tags = [str(tag) for tag in partitions]
        calls = [(self._renew, [self._leases(tag)], [process, lease_ms]) for tag in tags]
        answers = await self._run(calls)
        return Changes(lost=frozenset(tag for tag, had in zip(tags, answers, strict=True) if not int(had)))

    async def reap(self) -> Changes:
        tags = self._keys.partition_tags
        calls = [(self._reap, [self._leases(tag)], [self._space(tag), _PROCESSES_PER_REAP]) for tag in tags]
        left = []
        for answer in await self._run(calls):
            items = [_text(item) for item in answer]
            left += [
                Change(Group.parse(items[i]), UUID(items[i + 1]), int(items[i + 2])) for i in range(0, len(items), 3)
            ]
        return Changes(left=tuple(left))

    async def depart(self, process: str, partitions: Collection[Hashable], after_ms: int) -> None:
        await self._run([(self._depart, [self._leases(str(tag))], [process, after_ms]) for tag in partitions])

    async def count(self, group: Group) -> int:
        return int(await self._read(self._client.zcard(self._group_space(group) + "users")))

    async def members(self, group: Group, *, after: UUID | None, limit: int) -> PresencePage:
        space = self._group_space(group)
        answer = await self._read(
            self._page(
                keys=[space + "users", space + "info", space + "version"],
                args=["" if after is None else str(after), limit],
            )
        )
        count, version, items = int(answer[0]), int(answer[1]), [_text(item) for item in answer[2:]]
        members = []
        for i in range(0, min(len(items), 2 * limit), 2):
            streams, since, _ = items[i + 1].split(":")
            members.append(PresentMember(UUID(items[i]), int(streams), datetime.fromtimestamp(int(since) / 1000, UTC)))
        more = len(items) > 2 * limit
        return PresencePage(count, tuple(members), members[-1].user_id if more and members else None, version)

    def _group_space(self, group: Group) -> str:
        return self._space(self._keys.group_tag(group)) + f"{group}:"

    async def _read(self, call: Awaitable[Any]) -> Any:
        try:
            async with redis_wait(self._timeout):
                return await call
        except REDIS_FAILURE as error:
            raise PresenceUnavailableError(str(error) or type(error).__name__) from error

    async def _run(self, calls: Sequence[tuple[AsyncScript, list[str], list[Any]]]) -> list[Any]:
        """Every call, in order of the answers: in pipelines on a single Redis, side by side on a cluster."""
        answers: list[Any] = []
        size = _CALLS_AT_ONCE if self._is_cluster else _CALLS_PER_PIPELINE
        for start in range(0, len(calls), size):
            batch = calls[start : start + size]
            async with asyncio.timeout(self._timeout):
                if self._is_cluster:
                    answers += await asyncio.gather(*(script(keys=keys, args=args) for script, keys, args in batch))
                else:
                    async with self._client.pipeline(transaction=False) as pipe:
                        for script, keys, args in batch:
                            await script(keys=keys, args=args, client=pipe)
                        answers += await pipe.execute()
        return answers


def _changes(group: Group, answer: Sequence[bytes | str]) -> list[Change]:
    """The changes of one group in an answer ``{user, version, ...}``."""
    items = [_text(item) for item in answer]
    return [Change(group, UUID(items[i]), int(items[i + 1])) for i in range(0, len(items), 2)]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
