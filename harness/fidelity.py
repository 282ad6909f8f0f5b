"""The fidelity engine under its old name: seed runs (harness.runs) and claim verdicts (harness.claims).

Re-exported so that `from harness.fidelity import ...` keeps working; new code imports the defining module.
A test that monkeypatches one of these names must patch the defining module, which is where it is looked up.
"""

from .claims import (
    CONSISTENCY_ALPHA,
    ClaimResult,
    Consistency,
    consistency,
    evaluate,
    evaluate_all,
    smallest_mann_whitney_p,
    statistic,
)
from .executor import (
    SeedMetrics,
    code_hash,
    config_dict,
    config_hash,
    run_experiments,
    run_identity,
    run_key,
    seeds_for,
    split_metrics,
)
from .spec import claim_inputs

__all__ = [
    "CONSISTENCY_ALPHA", "ClaimResult", "Consistency", "SeedMetrics", "claim_inputs", "code_hash", "config_dict",
    "config_hash", "consistency", "evaluate", "evaluate_all", "run_experiments", "run_identity", "run_key",
    "seeds_for", "smallest_mann_whitney_p", "statistic", "split_metrics",
]
