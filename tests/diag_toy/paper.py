"""The toy paper (tests.toy) with a budget curve on its learning rate and a declared diagnosis."""

from __future__ import annotations

from dataclasses import replace

from harness.spec import BudgetCurve, Diagnosis
from tests.toy.paper import PAPER as TOY


def _lr(_experiment: str, config, lr):
    return replace(config, lr=float(lr))


# Small learning rates, far below where 30 steps of SGD with momentum could overshoot: the loss falls further
# the larger the rate, so the curve must come out budget-limited.
CURVE = BudgetCurve(claim="loss-falls", axis="learning rate", values=(0.0005, 0.002, 0.008), configure=_lr,
                    seeds=2, profile="tiny", note="a larger step moves further in 30 steps")
DECLARED = Diagnosis(claim="final-loss", kind="under-specified", summary="the toy paper names no loss scale",
                     candidates=("MSE", "sum of squares"), evidence=("tests/test_diagnosis.py",),
                     figures={"final loss": 0.5})

PAPER = replace(TOY, key="toydiag", budget_curves=(CURVE,), diagnoses=(DECLARED,))
