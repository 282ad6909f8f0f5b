"""Probe behind the diagnosis of Proposition 1 (NOTES.md): D trained alone as `optimal_d` does, under the
declared optimizer and two others, seeds 0-9 per framework. Prints one JSON line per (setting, framework): the
seeds that diverged, each seed's max |D - D*|, and the median over the seeds that trained. The claim's own config
is not changed by it.

    python -m reproductions.gan.probe_prop1      # about 3 CPU-minutes
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np

from harness import execution, executor, numerics, registry
from harness.curves import CurveLog
from harness.errors import TrainingDivergedError
from harness.spec import RunContext

SEEDS = range(10)


def settings(base):
    def gan(**changes):
        return dataclasses.replace(base, gan=dataclasses.replace(base.gan, **changes))

    return {"as declared: lr 0.1, momentum 0.9": base, "lr 0.05, momentum 0.9": gan(lr=0.05),
            "lr 0.1, momentum 0.5": gan(momentum=0.5)}


def main() -> None:
    numerics.import_framework("torch")  # torch before tensorflow
    paper = registry.get("gan")
    exp = paper.experiment("optimal_d")
    for name, config in settings(exp.configs["reduced"]).items():
        for fw in ("torch", "tf"):
            make = executor._model_factory(registry.model_class(paper, fw), execution.repro_mode(paper, fw))
            values, diverged = [], []
            for seed in SEEDS:
                ctx = RunContext(framework=fw, seed=seed, profile="reduced", data_dir=None, make_model=make,
                                 progress=lambda n: None, log=CurveLog())
                try:
                    values.append(exp.run(ctx, config)["max_abs_error"])
                except TrainingDivergedError:
                    diverged.append(seed)
                    values.append(math.nan)
            trained = [v for v in values if math.isfinite(v)]
            print(json.dumps({"setting": name, "framework": fw, "diverged_seeds": diverged, "values": values,
                              "median_trained": float(np.median(trained)),
                              "in_band_of_trained": f"{sum(v <= 0.05 for v in trained)}/{len(trained)}"}))


if __name__ == "__main__":
    main()
