"""Draw the figures of docs/interpret.md: ``python docs/interpret_figures.py``.

It fits the two models of the page with NUTS (2 chains of 1000 + 1000 draws, fixed seeds)
and writes the PNG files into ``docs/images/``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

import bayesmm as bmm
from bayesmm import interpret

IMAGES = Path(__file__).resolve().parent / "images"
FIT = {"draws": 1000, "tune": 1000, "chains": 2, "random_seed": 1, "progressbar": False}


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    sleep = bmm.Model("Reaction ~ Days + (Days | Subject)", bmm.load_data("sleepstudy"))
    sleep_fit = sleep.fitted(sleep.fit(**FIT))
    fig, _ = interpret.plot_predictions(
        sleep_fit,
        {"Days": None, "Subject": ["308", "309", "new"]},
        kind="response",
        sample_new_groups="gaussian",
        random_seed=1,
        show_data=True,
    )
    fig.savefig(IMAGES / "interpret-sleepstudy-predictions.png", dpi=80, bbox_inches="tight")
    fig, _ = interpret.plot_group_effects(sleep_fit, "Days|Subject")
    fig.savefig(IMAGES / "interpret-sleepstudy-slopes.png", dpi=80, bbox_inches="tight")

    bacteria = bmm.Model(
        "y['y'] ~ trt * week + (1|ID)", bmm.load_data("bacteria"), family="bernoulli"
    )
    bacteria_fit = bacteria.fitted(bacteria.fit(**FIT))
    fig, _ = interpret.plot_predictions(
        bacteria_fit, ["week", "trt"], include_group_specific=False
    )
    fig.savefig(IMAGES / "interpret-bacteria-predictions.png", dpi=80, bbox_inches="tight")
    fig, _ = interpret.plot_comparisons(
        bacteria_fit, "trt", conditional="week", include_group_specific=False
    )
    fig.savefig(IMAGES / "interpret-bacteria-comparisons.png", dpi=80, bbox_inches="tight")
    plt.close("all")


if __name__ == "__main__":
    main()
