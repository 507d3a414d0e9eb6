"""papermill peer: one parameterized notebook per plan point (its own kernel,
which loads and translates the model), K at a time. Prints {"wall_s", "runs"}.

Input (argv[1], JSON): {"model": PATH, "processes": K, "points": [{NAME: value}], "outcome": NAME,
"work": DIR}
"""

import json
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

warnings.simplefilter("ignore")
args = json.loads(sys.argv[1])

SOURCE = {
    "cells": [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "execution_count": None, "outputs": [],
         "source": "model_path = ''\nparams = {}\nout = ''\noutcome = ''"},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "import pysd\nm = pysd.read_vensim(model_path)\n"
                   "df = m.run(params=params, return_columns=[outcome])\ndf.to_parquet(out)"},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def run_one(i_point):
    import papermill as pm  # noqa: PLC0415
    import shutil  # noqa: PLC0415

    i, point = i_point
    d = os.path.join(args["work"], f"p{i}")
    os.makedirs(d, exist_ok=True)
    model = os.path.join(d, os.path.basename(args["model"]))
    shutil.copyfile(args["model"], model)
    pm.execute_notebook(
        os.path.join(args["work"], "template.ipynb"),
        os.path.join(d, "out.ipynb"),
        parameters={"model_path": model, "params": point, "out": os.path.join(d, "runs.parquet"),
                    "outcome": args["outcome"]},
        kernel_name="python3",
        progress_bar=False,
        cwd=d,
    )
    return i


if __name__ == "__main__":
    t0 = time.perf_counter()
    os.makedirs(args["work"], exist_ok=True)
    with open(os.path.join(args["work"], "template.ipynb"), "w") as f:
        json.dump(SOURCE, f)
    with ProcessPoolExecutor(args["processes"]) as pool:
        done = list(pool.map(run_one, enumerate(args["points"])))
    print(json.dumps({"wall_s": time.perf_counter() - t0, "runs": len(done)}))
