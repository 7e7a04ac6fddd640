"""The family lists of the README and the migration page are the registry's.

``python docs/family_table.py`` writes them between ``<!-- family-list:start -->`` and
``<!-- family-list:end -->``; these tests read the count and the names back from the text.
"""

import importlib.util
import re
from pathlib import Path

import pytest

import bayesmm as bmm

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "docs" / "migrating-from-bambi.md"]
START, END = "<!-- family-list:start -->", "<!-- family-list:end -->"


def _family_list(page: Path) -> str:
    text = page.read_text()
    assert text.count(START) == 1 and text.count(END) == 1, f"{page.name}: one list expected"
    return text.split(START, 1)[1].split(END, 1)[0]


def _generator():
    spec = importlib.util.spec_from_file_location("family_table", ROOT / "docs" / "family_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_family_list_gives_the_registrys_count_and_names(page):
    listed = _family_list(page)
    count = re.search(r"(\d+) built-in families", listed)
    assert count is not None, f"{page.name}: no count of the families"
    assert int(count.group(1)) == len(bmm.FAMILIES)
    assert re.findall(r"`([a-z_]+)`", listed) == list(bmm.FAMILIES)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_family_list_is_what_the_generator_writes(page):
    indent = _generator().LIST_PAGES[page]
    assert _family_list(page) == _generator().family_list(indent), (
        "run: python docs/family_table.py"
    )


def test_no_page_counts_the_families_by_hand():
    """A count written outside the generated lists goes stale when a family is added."""
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text()
        if START in text:
            text = text.split(START, 1)[0] + text.split(END, 1)[1]
        found = re.findall(r"\b\d+ (?:built-in )?famil(?:y|ies)\b", text)
        found += re.findall(r"\bthe \d+ built-in records\b", text)
        assert found == [], f"{page.name}: {found}"
