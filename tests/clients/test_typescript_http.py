"""The TypeScript client's HTTP calls: types generated from the app's own OpenAPI document by openapi-typescript,
kept equal to a fresh generation, and compiled with ``tsc`` against consumers through openapi-fetch: a path, a
field or a missing required body member the document does not allow is a compile error, and an error answer is
typed as the ``Problem`` document.

Node.js and the npm packages (``clients/typescript/package-lock.json``) are installed when missing.
"""

import json
import shutil
from pathlib import Path

import pytest

from infrastructure.container import Container
from presentation.http.app import create_app
from presentation.process.cli import main
from tests.support.node import CLIENT, install_client_packages, run, tsc

GENERATED = CLIENT / "src" / "generated" / "http.ts"

pytestmark = [pytest.mark.needs("node"), pytest.mark.timeout(600)]


@pytest.fixture(scope="module", autouse=True)
def npm_packages() -> None:
    install_client_packages()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of the client's sources and tsconfig (its own node_modules linked) to compile consumers in."""
    copy = tmp_path / "client"
    shutil.copytree(CLIENT / "src", copy / "src")
    (copy / "examples").mkdir()
    shutil.copy(CLIENT / "tsconfig.json", copy)
    (copy / "node_modules").symlink_to(CLIENT / "node_modules")
    return copy


def test_herald_openapi_writes_the_apps_own_document(tmp_path: Path) -> None:
    assert main(["openapi", "--output", str(tmp_path / "openapi.json")]) == 0
    written = json.loads((tmp_path / "openapi.json").read_text())
    served = create_app(Container()).openapi_schema.to_schema()
    # the same document (Litestar makes up a fresh example for /health's 503 each time: not compared)
    assert written["paths"].keys() == served["paths"].keys()
    assert written["paths"]["/api/v1/reports"] == served["paths"]["/api/v1/reports"]
    assert written["components"] == served["components"]


def test_the_committed_types_are_what_the_generator_makes_of_the_document_now(tmp_path: Path) -> None:
    assert main(["openapi", "--output", str(tmp_path / "openapi.json")]) == 0
    run(["node", "tools/generate-http.mjs", str(tmp_path / "openapi.json"), str(tmp_path / "http.ts")])
    assert (tmp_path / "http.ts").read_text() == GENERATED.read_text(), "regenerate: make clients"


def test_a_document_that_is_not_heralds_is_refused(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text(json.dumps({"openapi": "3.1.0", "paths": {}}))
    output = run(
        ["node", "tools/generate-http.mjs", str(tmp_path / "other.json"), str(tmp_path / "http.ts")],
        expect_failure=True,
    )
    assert "is not Herald's OpenAPI document" in output
    assert not (tmp_path / "http.ts").exists()


CORRECT = """\
import { createHeraldHttp, ok, ProblemError, type Problem } from '../src/stream';

const http = createHeraldHttp({ token: () => 'a token' });

export async function requestReport(): Promise<string> {
  const { data, error, response } = await http.POST('/api/v1/reports', { body: { title: 'Q3' } });
  if (error) {
    const problem: Problem = error;
    throw new Error(`${response.status} ${problem.title}: ${problem.detail ?? ''}`);
  }
  return data.report_id;
}

export async function share(reportId: string, userId: string): Promise<void> {
  await ok(http.POST('/api/v1/reports/{report_id}/shares', {
    params: { path: { report_id: reportId } },
    body: { user_id: userId },
  }));
  await http.DELETE('/api/v1/reports/{report_id}/shares/{user_id}', {
    params: { path: { report_id: reportId, user_id: userId } },
  });
}

export async function announce(): Promise<void> {
  try {
    await ok(http.POST('/api/v1/announcements', { body: { message: 'hello', scope: 'tenant' } }));
  } catch (error) {
    if (error instanceof ProblemError) console.warn(error.status, error.problem.title);
  }
}
"""

WRONG = """\
import { createHeraldHttp } from '../src/stream';

const http = createHeraldHttp();

export async function wrong(): Promise<void> {
  await http.POST('/api/v1/reports', { body: { title: 'Q3', colour: 'red' } });
  await http.POST('/api/v1/reports', { body: {} });
  await http.POST('/api/v1/report', { body: { title: 'Q3' } });
  const { data, error } = await http.POST('/api/v1/announcements', { body: { message: 'hi', scope: 'world' } });
  if (data) console.log(data.report_id);
  if (error) console.log(error.status_code);
}
"""


def test_a_correct_consumer_compiles(workspace: Path) -> None:
    (workspace / "examples" / "http.ts").write_text(CORRECT)
    tsc("-p", str(workspace))


def test_a_wrong_field_or_a_missing_required_member_is_a_compile_error(workspace: Path) -> None:
    (workspace / "examples" / "wrong.ts").write_text(WRONG)
    errors = tsc("-p", str(workspace), expect_failure=True)
    assert "'colour' does not exist in type" in errors, errors
    assert "Property 'title' is missing in type '{}'" in errors, errors
    assert "Argument of type '\"/api/v1/report\"' is not assignable" in errors, errors
    assert "Type '\"world\"' is not assignable to type '\"tenant\"'" in errors, errors
    assert "Property 'report_id' does not exist on type" in errors, errors
    assert "Property 'status_code' does not exist on type" in errors, errors
    assert errors.count("examples/wrong.ts(") == 6, errors
