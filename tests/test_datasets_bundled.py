import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from bayesmm.datasets import DATASETS


def test_load_data_without_name_lists_every_dataset_with_its_source():
    table = bmm.load_data()
    assert {
        "sleepstudy",
        "cbpp",
        "InstEval",
        "radon",
        "bacteria",
        "epilepsy",
        "salamanders",
        "wine",
    } <= set(table.index)
    assert table["source"].str.len().min() > 10


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("sleepstudy", (180, 3)),
        ("cbpp", (56, 4)),
        ("InstEval", (73421, 7)),
        ("radon", (919, 6)),
        ("bacteria", (220, 6)),
        ("epilepsy", (236, 9)),
        ("salamanders", (644, 9)),
        ("wine", (72, 6)),
    ],
)
def test_load_data_returns_the_published_table(name, shape):
    df = bmm.load_data(name)
    assert df.shape == shape
    assert not df.isna().any().any()
    for column in DATASETS[name].categorical:
        assert isinstance(df[column].dtype, pd.CategoricalDtype)


def test_sleepstudy_matches_lme4_summaries():
    df = bmm.load_data("sleepstudy")
    # lme4: mean(sleepstudy$Reaction) = 298.5079; 18 subjects, days 0-9.
    assert df["Reaction"].mean() == pytest.approx(298.5079, abs=1e-4)
    assert df["Subject"].nunique() == 18
    assert sorted(df["Days"].unique()) == list(range(10))


def test_insteval_and_radon_have_the_published_group_counts():
    inst = bmm.load_data("InstEval")
    assert (inst["s"].nunique(), inst["d"].nunique(), inst["dept"].nunique()) == (2972, 1128, 14)
    radon = bmm.load_data("radon")
    assert radon["county"].nunique() == 85
    np.testing.assert_array_equal(radon["floor"], 1 - radon["basement"])


def test_bacteria_keeps_rs_level_order_with_placebo_as_reference():
    assert list(bmm.load_data("bacteria")["trt"].cat.categories) == ["placebo", "drug", "drug+"]


def test_unknown_dataset_name_lists_the_valid_ones():
    with pytest.raises(
        bmm.DataError,
        match=r"name must be one of \[.*'sleepstudy'.*got 'sleepstudi'.*Did you mean 'sleepstudy'",
    ):
        bmm.load_data("sleepstudi")


def test_salamanders_matches_glmmtmbs_table():
    df = bmm.load_data("salamanders")
    # glmmTMB's Salamanders: 23 sites sampled 4 times, 7 species; 60.1% zero counts.
    assert (df["site"].nunique(), df["sample"].nunique(), df["spp"].nunique()) == (23, 4, 7)
    assert (df["count"] == 0).mean() == pytest.approx(0.601, abs=5e-4)
    assert df["count"].sum() == 852
    assert list(df["mined"].cat.categories) == ["yes", "no"]
    assert df["spp"].cat.categories[0] == "GP"
    # Mined sites are the valley-fill ('VF-') streams.
    assert (df["mined"] == "yes").eq(df["site"].str.startswith("VF")).all()


def test_wine_matches_the_ordinal_packages_table():
    df = bmm.load_data("wine")
    # ordinal's wine: table(wine$rating) is 5 22 26 12 7; 9 judges x 8 bottles; sum of the
    # 0-100 scores 3400.
    assert df["rating"].value_counts().sort_index().tolist() == [5, 22, 26, 12, 7]
    assert list(df["rating"].cat.categories) == [1, 2, 3, 4, 5]
    assert (df["judge"].nunique(), df["bottle"].nunique()) == (9, 8)
    assert df["response"].sum() == 3400
    assert pd.crosstab(df["temp"], df["contact"]).to_numpy().tolist() == [[18, 18], [18, 18]]
