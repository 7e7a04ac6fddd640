"""The family table of ``docs/families.md``, generated from the registry so it cannot go
stale (``tests/test_families_registry.py`` checks the page; ``python docs/family_table.py`` rewrites
it)."""

from __future__ import annotations

from collections.abc import Mapping

from ..priors import Prior, ResponseStats, format_value
from .builtin import PRIOR_TEXT, SCALE_TEXT
from .family import FAMILIES, Family

__all__ = ["family_table"]


def family_table(families: Mapping[str, Family] | None = None) -> str:
    """The markdown table of the registered families, as ``docs/families.md`` shows it.

    Generated from the registry (``tests/test_families_registry.py`` checks that the page holds
    exactly this), so that the page cannot go stale; ``python docs/family_table.py`` rewrites it.
    """
    rows = [
        "| Family | PyMC likelihood | Parameters (parent first) | Default link | Allowed links "
        "| Auxiliary parameters (default prior) | Response |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for family in (families or FAMILIES).values():
        scale = family.prior_scale
        if scale is None:
            sd = "sd(y)"
        else:
            sd = f"sd({SCALE_TEXT.get(scale) or getattr(scale, '__name__', 'f') + '(y)'})"
        aux = []
        for name in family.aux_params:
            function = family.aux_priors[name]
            text = PRIOR_TEXT.get(function)
            default = function(ResponseStats(0.0, 1.0))
            if not isinstance(default, Prior):
                aux.append(f"`{name} = {format_value(default)}` (fixed)")
                continue
            aux.append(f"`{name} ~ {text.format(sd=sd) if text else default}`")
        params = ", ".join(f"`{p}`" for p in family.likelihood.params)
        rows.append(
            f"| `{family.name}` | `{family.likelihood.name}` | {params} | `{family.link}` | "
            f"{', '.join(family.links)} | {', '.join(aux) or 'none'} | {family.support_text} |"
        )
    return "\n".join(rows) + "\n"
