"""From install to a served model, following docs/getting-started.md as written.

The blocks of its "From install to a served model" section (each after a
``<!-- walkthrough -->`` marker) run in order: the install step is the environment the
suite itself was installed in (the same command with more extras, so it is checked by
where ``bayesmm`` and the serve extra come from, not run again); the Python step fits and
saves the model with real NUTS; the server is started with the documented command; and
the documented ``curl`` request must get a 90% interval back.
"""

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "getting-started.md"


def walkthrough_blocks() -> list[tuple[str, str]]:
    """``(language, code)`` of each marked block of the page, in order."""
    text = PAGE.read_text()
    pattern = r"<!-- walkthrough -->\n```(\w+)\n(.*?)```"
    return [(lang, code) for lang, code in re.findall(pattern, text, re.S)]


def _command(code: str, port: int) -> str:
    """A documented shell command, run from this environment on a free port."""
    code = code.replace("\\\n", " ").strip()
    code = code.replace(".venv/bin/", str(Path(sys.executable).parent) + "/")
    if shutil.which("bayesmm", path=str(Path(sys.executable).parent)) is None:
        # An editable install without console scripts: the documented alternative.
        code = code.replace(
            str(Path(sys.executable).parent) + "/bayesmm", f"{sys.executable} -m bayesmm"
        )
    return code.replace("8000", str(port))


def _wait_for(url: str, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if server.poll() is not None:
            raise AssertionError(f"the server stopped: {log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the server did not answer {url} in {timeout} s")


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_the_docs_lead_from_install_to_a_served_model(tmp_path, unused_port):
    blocks = walkthrough_blocks()
    assert [lang for lang, _ in blocks] == ["bash", "python", "bash", "bash"]
    install, fit, serve, request = (code for _, code in blocks)

    # 1. Install: this environment was installed with the same command and more extras.
    assert 'pip install -q ".[serve]"' in install
    import bayesmm.serve  # noqa: F401  (the serve extra is here)

    # 2. Fit and save, as a script run by this environment's python.
    script = tmp_path / "fit.py"
    script.write_text(fit)
    subprocess.run([sys.executable, str(script)], cwd=tmp_path, check=True, timeout=600)
    assert (tmp_path / "sleepstudy.nc").exists()

    # 3. Serve, in the background, with the documented command.
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            "exec " + _command(serve, unused_port),
            shell=True,
            cwd=tmp_path,
            stdout=output,
            stderr=output,
        )
    try:
        _wait_for(f"http://127.0.0.1:{unused_port}/healthz", server, log)
        # 4. The documented request.
        out = subprocess.run(
            _command(request, unused_port),
            shell=True,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    answer = json.loads(out.stdout)
    (result,) = answer["results"]
    assert 150 < result["lower"] < result["upper"] < 450, result
    assert answer["n_draws"] == 2000
