"""The HTTP contract: Schemathesis, with every check, finds nothing the document and the server disagree on."""

import pytest

from tests.support.fuzz import run
from tests.support.server import RunningHerald

#: Fixed, so that the suite's run is the same every time and fits its time limit; `make fuzz` runs unseeded.
SEED = "20261208"
EXAMPLES = "30"


@pytest.mark.spawns
@pytest.mark.timeout(300)
async def test_schemathesis_with_every_check_finds_no_failure(service: RunningHerald) -> None:
    code, output = await run(service, "--seed", SEED, "--max-examples", EXAMPLES)
    assert code == 0, output
    assert "Stateful" in output, output  # the phase that follows the links ran
