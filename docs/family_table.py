"""Rewrite the family table of docs/families.md from the registry: python docs/family_table.py"""

from pathlib import Path

from bayesmm.families import family_table

START, END = "<!-- family-table:start -->\n", "<!-- family-table:end -->"
page = Path(__file__).with_name("families.md")
text = page.read_text()
before, rest = text.split(START, 1)
after = rest.split(END, 1)[1]
page.write_text(before + START + family_table() + END + after)
print(f"wrote the table of {page}")
