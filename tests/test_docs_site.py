"""The documentation site builds with warnings as errors (mkdocs.yml sets strict)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_docs_site_builds_with_warnings_as_errors(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    pages = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("index.html")}
    assert {"index.html", "api/index.html", "families/index.html"} <= pages
    # The API reference is rendered from the docstrings.
    assert "sample_new_groups" in (tmp_path / "api" / "index.html").read_text()
