"""Rewrite the docs' family table and family lists from the registry: python docs/family_table.py

- docs/families.md: the table between ``<!-- family-table:start -->`` and its end marker;
- README.md and docs/migrating-from-bambi.md: the count and names of the built-in families
  between ``<!-- family-list:start -->`` and ``<!-- family-list:end -->``.

``tests/test_families_registry.py`` and ``tests/test_docs_families.py`` check that they match.
"""

import textwrap
from pathlib import Path

import bayesmm as bmm
from bayesmm.families import family_table

DOCS = Path(__file__).resolve().parent
TABLE = "<!-- family-table:start -->\n", "<!-- family-table:end -->"
LIST = "<!-- family-list:start -->", "<!-- family-list:end -->"
#: The pages with a family list, and the indent of its lines (a list item's continuation).
LIST_PAGES = {DOCS.parent / "README.md": "  ", DOCS / "migrating-from-bambi.md": "  "}


def family_list(indent: str = "  ", width: int = 92) -> str:
    """The count and names of the registered families, in registry order, wrapped."""
    names = ", ".join(f"`{name}`" for name in bmm.FAMILIES)
    text = f"{len(bmm.FAMILIES)} built-in families: {names}"
    return "\n" + textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent)


def replace_between(text: str, markers: tuple[str, str], content: str) -> str:
    """``text`` with what lies between the two markers replaced by ``content``."""
    start, end = markers
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    return before + start + content + end + after


def main() -> None:
    page = DOCS / "families.md"
    page.write_text(replace_between(page.read_text(), TABLE, family_table()))
    print(f"wrote the table of {page}")
    for page, indent in LIST_PAGES.items():
        page.write_text(replace_between(page.read_text(), LIST, family_list(indent)))
        print(f"wrote the family list of {page}")


if __name__ == "__main__":
    main()
