"""The TypeScript client as a frontend installs it: ``npm pack`` gives a tarball of one ES module and its type
declarations, a scratch project installs it and compiles a consumer with ``tsc``; the bundle stays under its
size budget, and the demo page serves exactly what the build makes.

Node.js and the npm packages (``clients/typescript/package-lock.json``) are installed when missing.
"""

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.support.node import CLIENT, install_client_packages, run, tsc

ON_THE_PAGE = CLIENT.parents[1] / "src" / "presentation" / "http" / "static" / "herald-client.js"
#: What tools/build.mjs prints of the bundle it made.
SIZE = re.compile(r"herald-client\.js: (\d+) bytes minified, (\d+) bytes gzipped \(budget (\d+)\)")

pytestmark = [pytest.mark.needs("node"), pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the client's package (its own node_modules linked), built: what ``npm pack`` would pack."""
    install_client_packages()
    copy = tmp_path_factory.mktemp("package") / "herald-client"
    copy.mkdir()
    for name in ("src", "tools"):
        shutil.copytree(CLIENT / name, copy / name)
    for name in ("package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "README.md"):
        shutil.copy(CLIENT / name, copy)
    (copy / "node_modules").symlink_to(CLIENT / "node_modules")
    return copy


@pytest.fixture(scope="module")
def built(package: Path) -> tuple[int, int, int]:
    """Build the package; the bundle's size minified and gzipped, and the budget."""
    output = run(["node", "tools/build.mjs"], cwd=package)
    match = SIZE.search(output)
    assert match, output
    print(output.strip())
    minified, gzipped, budget = (int(group) for group in match.groups())
    return minified, gzipped, budget


def test_the_bundle_is_within_its_budget_and_the_demo_page_serves_that_build(
    package: Path, built: tuple[int, int, int]
) -> None:
    _, gzipped, budget = built
    assert gzipped <= budget <= 6.5 * 1024  # a few kilobytes: the stream client and openapi-fetch
    assert (package / "dist" / "herald-client.js").read_bytes() == ON_THE_PAGE.read_bytes(), "rebuild: make clients"


def test_a_bundle_over_the_budget_fails_the_build(package: Path) -> None:
    output = run(["node", "tools/build.mjs", "--budget", "1000", "--out", "over"], cwd=package, expect_failure=True)
    assert "over its budget" in output


def test_npm_pack_gives_a_tarball_a_scratch_project_installs_and_compiles_a_consumer_against(
    package: Path, built: tuple[int, int, int], tmp_path: Path
) -> None:
    packed = json.loads(run(["npm", "pack", "--json", "--pack-destination", str(tmp_path)], cwd=package))
    [tarball] = packed
    assert sorted(file["path"] for file in tarball["files"] if not file["path"].startswith("dist/types/")) == [
        "README.md",
        "dist/herald-client.js",
        "package.json",
    ]
    assert "dist/types/stream.d.ts" in {file["path"] for file in tarball["files"]}

    project = tmp_path / "frontend"
    project.mkdir()
    (project / "package.json").write_text(json.dumps({"name": "frontend", "private": True, "type": "module"}))
    run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefer-offline", str(tmp_path / tarball["filename"])],
        cwd=project,
    )
    compiler_options = {
        "target": "ES2022",
        "lib": ["ES2022", "DOM"],
        "module": "ESNext",
        "moduleResolution": "bundler",
        "strict": True,
        "noEmit": True,
    }
    (project / "tsconfig.json").write_text(json.dumps({"compilerOptions": compiler_options, "include": ["*.ts"]}))
    (project / "app.ts").write_text(
        "import { HeraldStream, type ReportProgressPayload } from 'herald-client';\n"
        "const stream = new HeraldStream({ baseUrl: 'https://events.example.com', user: 'u-1' });\n"
        "stream.on('report.progress', (payload: ReportProgressPayload, { id }) => console.log(payload.percent, id));\n"
        "stream.onStatus((status) => console.log(status === 'open'));\n"
        "async function optimistic(eventIds: string[]): Promise<void> {\n"
        "  await Promise.all(eventIds.map((eventId) => stream.seen(eventId, { timeout: 5000 })));\n"
        "}\n"
        "void optimistic([]);\n"
        "void stream.open();\n"
    )
    tsc("-p", str(project))
    (project / "wrong.ts").write_text(
        "import { HeraldStream } from 'herald-client';\n"
        "new HeraldStream({ baseUrl: 'x' }).on('report.progress', (payload) => payload.percentage);\n"
    )
    errors = tsc("-p", str(project), expect_failure=True)
    assert "Property 'percentage' does not exist on type 'ReportProgressPayload'" in errors

    # The installed module imports in Node too, and its backoff stays within the window (full jitter).
    check = (
        "import { backoff, EVENT_NAMES } from 'herald-client';\n"
        "const waits = [0, 0.5, 0.999].map((r) => backoff(3000, 0, 30000, () => r));\n"
        "const capped = backoff(3000, 20, 30000, () => 0.999);\n"
        "console.log(JSON.stringify({ waits, capped, names: EVENT_NAMES.length }));\n"
    )
    (project / "check.mjs").write_text(check)
    result = json.loads(run(["node", "check.mjs"], cwd=project))
    assert result["waits"] == [0, 1500, 2997]
    assert 29_000 < result["capped"] < 30_000
    assert result["names"] > 0


#: Node runs the built module with a fake fetch: the parser, then the backoff of one connection through refusals,
#: a stream that ends at once, one that stays open long enough, and the server's 204.
BEHAVIOUR = """
import { Connection, EventParser } from './dist/herald-client.js';

const parsed = [];
let hint;
const parser = new EventParser((event) => parsed.push(event), (ms) => (hint = ms));
for (const chunk of ['\\ufeffretry: 1234\\r', '\\nid: 1\\nevent: a\\ndata: x\\r\\ndata:  y\\r\\r', ': c\\n\\nretry: 9x\\n', 'data: z\\n']) {
  parser.push(chunk);
}

const encode = (text) => new TextEncoder().encode(text);
const stream = (text, openMs) => new Response(new ReadableStream({
  start(controller) {
    controller.enqueue(encode(text));
    setTimeout(() => controller.close(), openMs);
  },
}), { headers: { 'Content-Type': 'text/event-stream' } });
const answers = [
  () => new Response('no', { status: 401 }),
  () => new Response('no', { status: 401 }),
  () => new Response('no', { status: 401 }),
  () => stream('retry: 50\\n\\n', 0),
  () => stream('retry: 50\\n\\n', 250),
  () => new Response(null, { status: 204 }),
];
const waits = [];
const failures = [];
await new Promise((stopped) => {
  const connection = new Connection({
    target: async () => ({ url: 'http://herald.invalid/api/v1/events', credentials: false }),
    onEvent: () => undefined,
    onRetry: (ms) => waits.push(ms),
    onFailure: (error) => failures.push(error.message),
    onStopped: stopped,
    retryMs: 10,
    maxRetryMs: 1000,
    stableMs: 200,
    random: () => 0.999,
    fetch: async () => answers.shift()(),
  });
  connection.start();
});
console.log(JSON.stringify({ parsed, hint, waits, failures }));
"""


def test_the_connection_parses_the_standard_s_lines_and_backs_off_until_a_stream_stays_open(
    package: Path, built: tuple[int, int, int]
) -> None:
    (package / "behaviour.mjs").write_text(BEHAVIOUR)
    result = json.loads(run(["node", "behaviour.mjs"], cwd=package))
    assert result["parsed"] == [{"name": "a", "id": "1", "data": "x\n y"}]  # CR, CRLF; the unfinished event dropped
    assert result["hint"] == 1234  # and "9x" is no retry
    # Waits of up to base * 2^failures (here the top of the window): three refusals double it; the server's
    # retry: becomes the base; a stream that ended at once is a fourth failure; one that stayed open for the
    # stable time forgets them all, and its clean end waits one window at most.
    assert result["waits"] == [19, 39, 79, 799, 49]
    assert len(result["failures"]) == 5
    assert "refused (401)" in result["failures"][0]
