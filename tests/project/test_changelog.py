"""The CHANGELOG tells the truth about versions: every released version is a dated heading, newest first, and
``sse_fast.__version__`` is either the newest of them or the one the Unreleased section says comes next."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import List, Tuple

import pytest

import sse_fast

CHANGELOG = Path(__file__).resolve().parents[2] / "CHANGELOG.md"
if not CHANGELOG.is_file():  # a copy of tests/ run against a wheel: the file is not beside it
    pytest.skip("CHANGELOG.md is not beside tests/ (a suite copied to test a wheel)", allow_module_level=True)

RELEASED = re.compile(r"^## \[(\d+)\.(\d+)\.(\d+)\] - (\d{4}-\d{2}-\d{2})$")


def headings() -> List[str]:
    return [line for line in CHANGELOG.read_text(encoding="utf-8").split("\n") if line.startswith("## ")]


def releases() -> List[Tuple[Tuple[int, int, int], date]]:
    found = []
    for heading in headings()[1:] if headings()[0] == "## [Unreleased]" else headings():
        match = RELEASED.match(heading)
        assert match, f"{heading!r}: a released version's heading is '## [X.Y.Z] - YYYY-MM-DD'"
        major, minor, patch, day = match.groups()
        found.append(((int(major), int(minor), int(patch)), date.fromisoformat(day)))
    return found


def test_released_versions_are_dated_and_newest_first() -> None:
    found = releases()
    assert found == sorted(found, reverse=True), "versions and dates go newest first"
    assert all(day <= date.today() for _, day in found), "no release is dated in the future"


def test_the_package_version_is_released_or_announced() -> None:
    version = sse_fast.__version__
    found = releases()
    if found and ".".join(map(str, found[0][0])) == version:
        return  # the newest release
    text = CHANGELOG.read_text(encoding="utf-8")
    unreleased = text.split("\n## [Unreleased]\n", 1)[1].split("\n### ", 1)[0]
    assert f"`{version}`" in unreleased, f"__version__ {version} is neither released nor announced as next"
    assert all(".".join(map(str, v)) != version for v, _ in found), f"{version} is released already"
