"""Draw the figure of docs/workflow.md: ``python docs/workflow_figures.py``.

It fits the sleepstudy model with NUTS (2 chains of 1000 + 1000 draws, a fixed seed) and
writes one PNG into ``docs/images/``: three posterior predictive checks side by side.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

import bayesmm as bmm

IMAGES = Path(__file__).resolve().parent / "images"
FIT = {"draws": 1000, "tune": 1000, "chains": 2, "random_seed": 1, "progressbar": False}


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", bmm.load_data("sleepstudy"))
    fitted = model.fitted(model.fit(**FIT))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    fitted.plot_ppc("density", ax=axes[0])
    fitted.plot_ppc("stat", stat="sd", ax=axes[1])
    fitted.plot_ppc("intervals", group="Subject", ax=axes[2])
    fig.savefig(IMAGES / "workflow-sleepstudy-ppc.png", dpi=80, bbox_inches="tight")
    print(fitted.sensitivity().round(3).to_string())


if __name__ == "__main__":
    main()
