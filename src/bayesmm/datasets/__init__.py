"""Small public datasets bundled with bayesmm, loaded offline with :func:`load_data`."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import pandas as pd

from .._errors import DataError
from .._validation import choice_message

__all__ = ["load_data", "DatasetInfo", "DATASETS"]


@dataclass(frozen=True)
class DatasetInfo:
    """Where a bundled dataset comes from and how its columns are typed."""

    name: str
    description: str
    source: str
    reference: str
    categorical: tuple[str, ...] = ()
    #: Level order of factors whose R order is not the sorted one (the first is the reference).
    level_order: tuple[tuple[str, tuple[str, ...]], ...] = ()


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in [
        DatasetInfo(
            "sleepstudy",
            "Average reaction time (ms) per day for 18 subjects in a sleep-deprivation "
            "study; Days 0-9. 180 rows.",
            "R package lme4, data set `sleepstudy`.",
            "Belenky et al. (2003), J. Sleep Research 12, 1-12.",
            categorical=("Subject",),
        ),
        DatasetInfo(
            "cbpp",
            "Contagious bovine pleuropneumonia: new serological cases (`incidence`) out of "
            "`size` zebu cattle per `herd` and `period`. 56 rows.",
            "R package lme4, data set `cbpp`.",
            "Lesnoff et al. (2004), Am. J. Vet. Research 65, 1377-1384.",
            categorical=("herd", "period"),
        ),
        DatasetInfo(
            "InstEval",
            "University lecture evaluations at ETH Zurich: rating `y` (1-5) by student `s` of "
            "lecturer `d`, with `service`, `dept`, `studage`, `lectage`. 73,421 rows.",
            "R package lme4, data set `InstEval`.",
            "Bates et al. (2015), J. Stat. Software 67(1) (lme4).",
            categorical=("s", "d", "studage", "lectage", "service", "dept"),
        ),
        DatasetInfo(
            "radon",
            "Minnesota household radon: `log_radon`, measurement `floor` (0 = basement, "
            "1 = first floor; `basement` = 1 - floor), county-level log `uranium`, `county` "
            "index and `county_name`. 919 rows.",
            "R package HLMdiag, data set `radon` (floor derived as 1 - basement).",
            "Gelman & Hill (2007), Data Analysis Using Regression and Multilevel/Hierarchical "
            "Models, ch. 12.",
            categorical=("county", "county_name"),
        ),
        DatasetInfo(
            "bacteria",
            "Presence (`y` = 'y') or absence ('n') of H. influenzae in children with otitis "
            "media, by `week`, treatment `trt` and child `ID`. 220 rows.",
            "R package MASS, data set `bacteria`.",
            "Menard et al. (1998); Venables & Ripley (2002), Modern Applied Statistics with S.",
            categorical=("y", "ap", "hilo", "ID", "trt"),
            level_order=(("trt", ("placebo", "drug", "drug+")),),
        ),
        DatasetInfo(
            "epilepsy",
            "Seizure counts `y` in four two-week `period`s for 59 epileptics by treatment `trt`, "
            "baseline count `base`, `age`, log-scaled `lbase`, `lage`, and `subject`. 236 rows.",
            "R package MASS, data set `epil`.",
            "Thall & Vail (1990), Biometrics 46, 657-671.",
            categorical=("trt", "subject"),
        ),
        DatasetInfo(
            "salamanders",
            "Counts of seven salamander species or life stages (`spp`) in repeated samples "
            "(`sample` 1-4) of 23 Appalachian streams (`site`), some affected by mountaintop "
            "removal coal mining (`mined`), with standardised `cover` (objects in the stream), "
            "`DOP` (days since precipitation), `Wtemp` (water temperature) and `DOY` (day of "
            "year). 60% of the counts are zero. 644 rows.",
            "R package glmmTMB, data set `Salamanders`, from the Dryad data package of Price "
            "et al. (2015), doi:10.5061/dryad.5m8f6 (CC0).",
            "Price et al. (2016), J. Applied Ecology 53, 459-468; Brooks et al. (2017), "
            "The R Journal 9(2), 378-400 (glmmTMB).",
            categorical=("site", "mined", "spp"),
            level_order=(
                ("mined", ("yes", "no")),
                ("spp", ("GP", "PR", "DM", "EC-A", "EC-L", "DES-L", "DF")),
            ),
        ),
        DatasetInfo(
            "bcg",
            "BCG vaccine against tuberculosis: 13 trials (`trial`, `author`, `year`), with "
            "the tuberculosis cases (`tpos`) and non-cases (`tneg`) among the vaccinated, the "
            "same (`cpos`, `cneg`) among the controls, the absolute latitude of the trial "
            "(`ablat`, degrees) and how treatment was allocated (`alloc`: random, alternate, "
            "systematic). 13 rows.",
            "Colditz et al. (1994), Table 1, as distributed with the R package metafor "
            "(data set `dat.bcg`).",
            "Colditz, Brewer, Berkey, Wilson, Burdick, Fineberg and Mosteller (1994), Efficacy "
            "of BCG vaccine in the prevention of tuberculosis: meta-analysis of the published "
            "literature, JAMA 271, 698-702.",
            categorical=("author", "alloc"),
        ),
        DatasetInfo(
            "wine",
            "Bitterness of wine: `rating` on an ordered scale 1 (least bitter) to 5 (most "
            "bitter), and the underlying score `response` (0-100), for two `bottle`s of each "
            "of four treatments (`temp` cold/warm, skin `contact` no/yes) tasted by nine "
            "`judge`s. 72 rows.",
            "R package ordinal, data set `wine`, as distributed in the Rdatasets collection "
            "(csv/ordinal/wine.csv).",
            "Randall (1989), The analysis of sensory data by generalised linear model, "
            "Biometrical Journal 31, 781-793; Christensen (2019), ordinal: regression models "
            "for ordinal data (R package).",
            categorical=("rating", "temp", "contact", "bottle", "judge"),
        ),
    ]
}


def load_data(name: str | None = None) -> pd.DataFrame:
    """Load a bundled dataset, or list the available ones.

    Parameters
    ----------
    name : str, optional
        The dataset's name. Without it, a table of the bundled datasets is returned.

    Returns
    -------
    pandas.DataFrame
        The data, with R factors as pandas categoricals; or, without ``name``, one row per
        dataset with its description and source.

    Raises
    ------
    DataError
        If ``name`` is not a bundled dataset.

    Examples
    --------
    >>> import bayesmm as bmm
    >>> bmm.load_data("sleepstudy").shape
    (180, 3)
    """
    if name is None:
        return pd.DataFrame(
            [(i.name, i.description, i.source, i.reference) for i in DATASETS.values()],
            columns=["name", "description", "source", "reference"],
        ).set_index("name")
    if name not in DATASETS:
        raise DataError(choice_message("name", name, DATASETS))
    info = DATASETS[name]
    path = resources.files(__name__).joinpath("data", f"{name}.csv.gz")
    with resources.as_file(path) as file:
        df = pd.read_csv(file, compression="gzip")
    order = dict(info.level_order)
    for column in info.categorical:
        df[column] = pd.Categorical(df[column], categories=order.get(column))
    return df
