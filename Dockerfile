# Herald, as production runs it: `docker compose up` (compose.yaml) or any orchestrator.
# Needs HERALD_JWT_SECRET (at least 32 bytes), and usually HERALD_REDIS_URL and HERALD_DATABASE_URL, at run time.

FROM python:3.11-slim AS build
# The uv the Makefile pins, to install exactly uv.lock (docs/dependencies.md).
ARG UV_VERSION=0.13.10
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PROJECT_ENVIRONMENT=/opt/herald UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_NO_CACHE=1
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /build
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
# The project and its locked runtime dependencies only (no extras), into a venv copied below;
# --locked: the build fails if uv.lock no longer matches pyproject.toml.
RUN uv sync --locked --no-dev --no-editable

FROM python:3.11-slim
ENV PATH=/opt/herald/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HERALD_ENV=production \
    HERALD_HOST=0.0.0.0 \
    HERALD_PORT=8000 \
    HERALD_METRICS_PORT=9180
RUN groupadd --system --gid 10001 herald \
    && useradd --system --uid 10001 --gid herald --no-create-home --shell /usr/sbin/nologin herald \
    && mkdir -p /var/lib/herald && chown 10001:10001 /var/lib/herald
COPY --from=build /opt/herald /opt/herald
# Without HERALD_DATABASE_URL, one replica keeps its SQLite file here (mount a volume); replicas share PostgreSQL.
WORKDIR /var/lib/herald
# Numeric, so runtimes that check for a non-root user (runAsNonRoot) can verify it.
USER 10001:10001
# 8000: the API, the stream and the page (behind the proxy); 9180: GET /metrics for Prometheus, bound to
# loopback unless HERALD_METRICS_HOST names the container's interface (compose.yaml does). Never publish 9180.
EXPOSE 8000 9180
# The slim image has no curl: Python's urllib fails (exit 1) on a refused connection or a non-2xx answer.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request as r; r.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
# SIGTERM ends every open stream with stream.end (clients resume on another replica), then exits;
# give it more than HERALD_SHUTDOWN_GRACE_SECONDS (5 s) to do so (compose: stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["herald", "run", "--host", "0.0.0.0"]
