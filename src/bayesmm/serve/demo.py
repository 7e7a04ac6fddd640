"""The demo model that ``bayesmm serve`` serves when it is given no file.

lme4's sleepstudy model, ``Reaction ~ Days + (Days | Subject)``, fitted on the bundled data
and shipped in the package as ``sleepstudy_demo.nc`` (2 chains of 250 draws, thinned from
1,000), so the command works on a fresh install without fitting. To write it again, run
``python -m bayesmm.serve.demo``.
"""

from __future__ import annotations

from pathlib import Path

DEMO_FILE = Path(__file__).with_name("sleepstudy_demo.nc")
DEMO_FORMULA = "Reaction ~ Days + (Days | Subject)"


def write_demo(path: Path = DEMO_FILE) -> Path:
    """Fit the demo model with NUTS and save it to ``path`` (needs pymc)."""
    import bayesmm as bmm

    model = bmm.Model(DEMO_FORMULA, bmm.load_data("sleepstudy"))
    idata = model.fit(draws=1000, tune=1000, chains=2, random_seed=2024, progressbar=False)
    return model.save(path, idata, draws=250, sample_new_groups="gaussian")


if __name__ == "__main__":
    print(f"wrote {write_demo()}")
