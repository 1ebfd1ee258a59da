"""The uv the Makefile pins (``UV_VERSION``), which reads uv.lock: its version, and where ``make install`` put it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def uv_version() -> str:
    [version] = re.findall(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    return version


def uv_binary() -> Path:
    return ROOT / ".uv" / uv_version() / "bin" / "uv"
