"""The baseline: what a Litestar user writes without Herald.

The channels plugin with its Redis pub/sub backend behind a ``ServerSentEvent``
route, with the same bearer-token check as Herald. Run by the benchmark as
``uvicorn bench.baseline_app:app`` with ``BENCH_REDIS_URL``, ``BENCH_PREFIX``
and ``BENCH_JWT_SECRET`` set.
"""

import os
from collections.abc import AsyncIterator

import jwt
from litestar import Litestar, Request, get
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.exceptions import NotAuthorizedException
from litestar.response import ServerSentEvent, ServerSentEventMessage
from redis.asyncio import Redis

PREFIX = os.environ["BENCH_PREFIX"]
SECRET = os.environ["BENCH_JWT_SECRET"]
channels = ChannelsPlugin(
    backend=RedisChannelsPubSubBackend(redis=Redis.from_url(os.environ["BENCH_REDIS_URL"])),
    arbitrary_channels_allowed=True,
)


@get("/api/v1/events")
async def events(request: Request, channels: ChannelsPlugin) -> ServerSentEvent:  # type: ignore[type-arg]
    try:
        claims = jwt.decode(
            request.headers.get("authorization", "").removeprefix("Bearer "),
            SECRET,
            algorithms=["HS256"],
            audience="herald",
            issuer="herald",
        )
    except jwt.PyJWTError as error:
        raise NotAuthorizedException(str(error)) from error
    wanted = [f"{PREFIX}:user:{claims['sub']}", f"{PREFIX}:broadcast"]

    async def messages() -> AsyncIterator[ServerSentEventMessage]:
        async with channels.start_subscription(wanted) as subscriber:
            async for data in subscriber.iter_events():
                yield ServerSentEventMessage(data=data.decode(), event="bench.ping")

    return ServerSentEvent(messages())


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar([events, health], plugins=[channels])
