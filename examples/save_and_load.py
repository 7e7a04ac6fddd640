"""Fit once, save to one file, and predict from it in a fresh process without pymc.

Run with ``python examples/save_and_load.py [draws]``. It fits lme4's sleepstudy model,
saves it to ``sleepstudy_model.nc``, then starts a new Python process that loads the file
and prints 90% predictive intervals. It also checks that pymc was never imported there.
"""

import subprocess
import sys
from pathlib import Path

import bayesmm as bmm

draws = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
path = Path("sleepstudy_model.nc")

data = bmm.load_data("sleepstudy")
model = bmm.Model("Reaction ~ Days + (Days | Subject)", data)
idata = model.fit(draws=draws, chains=2, random_seed=1, progressbar=False)
model.save(path, idata, sample_new_groups="gaussian")
print(f"Saved {path} ({path.stat().st_size / 1e6:.2f} MB)")

serving_code = f"""
import sys
import pandas as pd
import bayesmm as bmm

fitted = bmm.load({str(path)!r})
print(fitted)
print("written by", fitted.source["versions"]["bayesmm"], "on", fitted.source["saved_at"])
new = pd.DataFrame({{"Days": [0, 9, 0, 9], "Subject": ["308", "308", "new", "new"]}})
print(fitted.interval(new, prob=0.9, random_seed=1).round(1).assign(**new))
print("pymc imported:", "pymc" in sys.modules)
"""
subprocess.run([sys.executable, "-c", serving_code], check=True)
