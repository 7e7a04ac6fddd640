"""The demo model that ``bayesmm serve`` serves when it is given no file.

lme4's sleepstudy model, ``Reaction ~ Days + (Days | Subject)``, fitted on the bundled data
and shipped in the package as ``sleepstudy_demo.nc`` (2 chains of 250 draws, thinned from
1,000), so the command works on a fresh install without fitting. To write it again, run
``python examples/serve_demo.py`` (it fits with NUTS, which the server never does).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEMO_FILE", "DEMO_FORMULA"]

DEMO_FILE = Path(__file__).with_name("sleepstudy_demo.nc")
DEMO_FORMULA = "Reaction ~ Days + (Days | Subject)"
