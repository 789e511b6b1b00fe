"""The README is also the package's page on PyPI, where a relative link leads nowhere: every link is absolute,
and each one into the docs site or the repository names a page, a heading or a file that exists here."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
if not (ROOT / "README.md").is_file():  # a copy of tests/ run against a wheel: the README is not beside it
    pytest.skip("README.md is not beside tests/ (a suite copied to test a wheel)", allow_module_level=True)

DOCS_SITE = "https://sse-fast.github.io/sse_fast/"
REPOSITORY = "https://github.com/sse-fast/sse_fast/blob/main/"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def links() -> List[str]:
    return LINK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def slug(heading: str) -> str:
    """The anchor mkdocs (Python-Markdown's toc) gives a heading."""
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> List[str]:
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return [slug(heading) for heading in headings]


def target(url: str) -> Tuple[Path, str]:
    """The file in this checkout that a link names, and its anchor."""
    address, _, anchor = url.partition("#")
    if address.startswith(DOCS_SITE):
        page = address[len(DOCS_SITE) :].strip("/") or "index"
        return ROOT / "docs" / f"{page}.md", anchor
    return ROOT / address[len(REPOSITORY) :], anchor


def test_the_readme_has_links() -> None:
    assert len(links()) >= 10


@pytest.mark.parametrize("url", links())
def test_every_link_is_absolute(url: str) -> None:
    assert re.match(r"https?://", url), f"README link {url!r} is relative: it breaks on PyPI"


@pytest.mark.parametrize("url", [u for u in links() if u.startswith((DOCS_SITE, REPOSITORY))])
def test_links_into_the_project_name_what_exists(url: str) -> None:
    path, anchor = target(url)
    assert path.is_file(), f"README links {url!r}, but {path.relative_to(ROOT)} does not exist"
    if anchor:
        assert anchor in anchors(path), f"README links {url!r}: no heading of {path.name} has that anchor"


def test_the_docs_site_is_built_for_the_address_the_readme_links() -> None:
    # without site_url mkdocs gives the 404 page links from the domain's root (/api/), which 404 under /sse_fast/
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    found = re.search(r"^site_url: (\S+)", config, re.MULTILINE)
    assert found and found[1] == DOCS_SITE, "mkdocs.yml names no site_url, or another one than the README's"
