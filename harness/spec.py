"""What a paper declares, framework-free: the `Paper` object each `reproductions/<paper>/paper.py` exports.

Everything here is plain data (frozen dataclasses) plus framework-neutral callables, so that
`python -m harness list` loads every paper without importing torch or tensorflow.

The common model interface (`Model`) is written down here as a Protocol; each paper implements it twice,
in `torch_impl.py` and `tf_impl.py`. Only NumPy crosses the boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

Params = dict[str, np.ndarray]  # canonical names ("stage1/block0/conv1/kernel") -> canonical layout
Batch = dict[str, np.ndarray]  # inputs AND all randomness (GAN z, DDPM noise and t, dropout masks)

FRAMEWORKS = ("torch", "tf")
DTYPES = ("float32", "float64")
PROFILES = ("tiny", "reduced", "paper")


class Model(Protocol):
    """The common interface; `reproductions/<paper>/{torch,tf}_impl.py` each define `class Model`.

    `config` is the paper's frozen config dataclass. Construction draws initial weights from `seed`
    (the two frameworks need not draw the same ones: agreement copies A's parameters into B).
    """

    def __init__(self, config: Any, seed: int, dtype: str = "float32") -> None: ...

    def get_params(self) -> Params:
        """Every parameter and state variable (e.g. batch-norm moving statistics), canonical layout.
        Implementations inherit this from `harness.adapters.AdaptedModel`."""

    def set_params(self, params: Params) -> None:
        """Exact keys and shapes, else a ParamsError naming each bad key (`harness.adapters`)."""

    def forward(self, batch: Batch, training: bool = False) -> dict[str, np.ndarray]:
        """Named taps in computation order, ending with "output". Changes no state.

        `training` selects train-mode behaviour (batch statistics, dropout with the batch's masks).
        """

    def grads(self, batch: Batch) -> tuple[float, Params]:
        """Training-mode loss and d loss / d param for every trainable parameter. Changes no state."""

    def train_step(self, batch: Batch) -> dict[str, float]:
        """One update with the framework's own optimizer object; returns at least {"loss": ...}."""

    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]: ...

    # A paper with an inference benchmark also defines `predict(batch) -> np.ndarray`: the eval-mode "output"
    # of `forward` alone, in the model's execution mode (what a user's inference loop computes; `forward`
    # returns every tap, eagerly, for agreement).


# ---------------------------------------------------------------------------------------------------------
# Agreement


@dataclass(frozen=True, kw_only=True)
class AgreementCase:
    """One agreement scenario: build both models from `config`, copy params A -> B, then compare.

    `make_batches(rng, dtype, n)` returns n framework-free batches (all randomness included).
    `depth` is the longest chain of layers from input to loss; it scales the tolerance (harness.tolerance).
    `steps` optimizer steps are compared as a trajectory (0: forward and gradients only).
    """

    name: str
    config: Any
    make_batches: Callable[[np.random.Generator, str, int], list[Batch]]
    depth: int
    steps: int = 10
    dtypes: tuple[str, ...] = DTYPES
    seed: int = 0
    slow: bool = False  # minutes rather than seconds: excluded from the fast test tier, still run by `agree`


@dataclass(frozen=True, kw_only=True)
class ToleranceOverride:
    """Replace the rule's tolerance for checks whose name matches `check` (fnmatch pattern).

    `reason` is required and is printed beside every check it touches.
    """

    check: str
    dtype: str
    tol: float
    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError(f"tolerance override for {self.check!r} needs a written reason")


@dataclass(frozen=True, kw_only=True)
class Mutation:
    """A deliberate porting bug the engine must catch (tests/test_mutations.py).

    On `framework`'s impl module, attribute `attribute` is replaced by `replacement` (a callable taking
    the impl module and returning the new value, so torch/tf objects are built only inside the test).
    The agreement engine must then report the first divergence at tap/parameter `first_divergence`.
    """

    name: str
    framework: Literal["torch", "tf"]
    attribute: str
    replacement: Callable[[Any], Any]
    case: str
    first_divergence: str


# ---------------------------------------------------------------------------------------------------------
# Fidelity: experiments produce per-seed metrics, claims test them.


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """What an experiment gets: a way to build this framework's model, the seed, data and progress."""

    framework: str
    seed: int
    profile: str
    data_dir: str | None
    make_model: Callable[..., Model]  # make_model(config, seed=..., dtype=...)
    progress: Callable[[int], None] = lambda n: None  # advance this run's progress bar by n units
    # log(step, name, value): one point of a training curve (see harness.training), kept with the seed run
    log: Callable[[int, str, float], None] = lambda step, name, value: None


@dataclass(frozen=True, kw_only=True)
class Experiment:
    """A framework-neutral training procedure, run once per (framework, seed).

    `run(ctx, config) -> {metric: float}`; NaN marks a metric the seed did not reach (e.g. never
    converged). `configs` maps profile -> config; `seeds` maps profile -> number of seeds.
    `dataset` names what it trains on (recorded with every result); `units` is the progress total
    per seed (e.g. sweeps). `deterministic`: computed without training or sampling (a schedule, a count),
    so its claims are compared strictly by the regression verdict rather than as a distribution over seeds.
    `outcomes`: the metrics whose per-seed value is the seed's success (1) or failure (0), not a measurement
    that happens to be 0 or 1 (a fraction correct can be 1.0 in every seed): torch and tf are compared on
    them as success rates (harness.consistency).
    """

    name: str
    run: Callable[[RunContext, Any], dict[str, float]]
    configs: Mapping[str, Any]
    seeds: Mapping[str, int]
    dataset: str
    units: Callable[[Any], int] = lambda config: 0
    description: str = ""
    deterministic: bool = False
    outcomes: tuple[str, ...] = ()


Statistic = Literal["median", "mean", "olympic", "min", "max"]


@dataclass(frozen=True, kw_only=True)
class Claim:
    """A checkable statement of the paper, evaluated over seeds in each framework.

    `reported` is the paper's own number (or None when the paper gives none) and `source` where it is
    ("Fig. 1 caption", "Table 6"). `setting` says in words how the run differs from the paper: one text for
    the reduced profile, or a mapping profile -> text when the profiles differ in more than scale
    (`setting_for`).
    """

    id: str
    text: str
    source: str
    setting: str | Mapping[str, str]
    reported: float | str | None = None
    statistic: Statistic = "median"
    report_only: bool = False  # measured and shown, never a pass/fail verdict (e.g. "report the LRN effect")
    # torch and tf are called consistent on this claim when the 95% interval of their difference (in the
    # per-seed quantity's units) lies within +-equivalence. None: the default rule derived from the band
    # (harness.consistency.equivalence_margin); a declared margin needs a one-line equivalence_reason.
    equivalence: float | None = None
    equivalence_reason: str = ""

    def __post_init__(self) -> None:
        if self.equivalence is not None and (self.equivalence < 0 or not self.equivalence_reason.strip()):
            raise ValueError(f"claim {self.id!r}: an equivalence margin must be >= 0 and have a written reason")

    def setting_for(self, profile: str) -> str:
        """The setting of `profile`'s run. A single text describes the reduced profile; any other profile is
        labelled as a scaled-down (or up) run of it rather than shown as if it were that setting."""
        if not isinstance(self.setting, str):
            if profile not in self.setting:
                raise KeyError(f"claim {self.id!r} has no setting for profile {profile!r}; it has: "
                               f"{', '.join(self.setting)}")
            return self.setting[profile]
        if profile == "reduced":
            return self.setting
        return f"scaled from the reduced setting: {self.setting}"


@dataclass(frozen=True, kw_only=True)
class Band(Claim):
    """statistic(metric over seeds of `experiment`) lies in [lo, hi]."""

    experiment: str
    metric: str
    lo: float = -np.inf
    hi: float = np.inf


@dataclass(frozen=True, kw_only=True)
class Ordering(Claim):
    """statistic(a) `relation` statistic(b) (+ margin): e.g. plain-56 train loss > plain-20."""

    a: tuple[str, str]  # (experiment, metric)
    b: tuple[str, str]
    relation: Literal[">", ">=", "<", "<="] = ">"
    margin: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Ratio(Claim):
    """statistic(a) / statistic(b) lies in [lo, hi]."""

    a: tuple[str, str]
    b: tuple[str, str]
    lo: float = -np.inf
    hi: float = np.inf


# ---------------------------------------------------------------------------------------------------------
# Benchmarks


@dataclass(frozen=True, kw_only=True)
class BenchmarkCase:
    """Throughput of one Model method on the same work in both frameworks (`python -m harness bench`).

    `make_batch(rng, dtype)` gives the batch; `method` is a Model method taking that batch
    ("train_step", "predict", or a paper's own, e.g. a DDPM "sample"); `items` is how many `unit`s
    (images, sequences, samples) one call processes.
    """

    name: str
    config: Any
    make_batch: Callable[[np.random.Generator, str], Batch]
    method: str
    items: int
    unit: str = "images"
    dtype: str = "float32"


# ---------------------------------------------------------------------------------------------------------
# Diagnoses of claims that do not reproduce (harness.diagnosis)

DiagnosisKind = Literal["budget-limited", "contradicted", "implementation suspected", "under-specified"]
DIAGNOSIS_KINDS: tuple[str, ...] = ("budget-limited", "contradicted", "implementation suspected", "under-specified")


@dataclass(frozen=True, kw_only=True)
class BudgetCurve:
    """A claim re-run at three or more budgets: a first-class experiment of the paper (`python -m harness
    diagnose PAPER`), declared in paper.py next to the claim it diagnoses, e.g.

        BudgetCurve(claim="relu-faster-than-tanh", axis="epochs", values=(4, 8, 16),
                    configure=lambda experiment, config, epochs: replace(config, max_epochs=epochs))

    At each budget in `values` (ascending) every experiment the claim reads is run with
    `configure(experiment name, the experiment's config at `profile`, budget)` for `seeds` seeds in each
    framework, through the same executor as `reproduce` (each seed run saved as it finishes; --resume reuses
    it). The claim is then evaluated at each budget by its own rule, and the trend toward the paper's value is
    decided by the rule in `harness.diagnosis` (stated there, fixed before any curve was run): budget-limited,
    contradicted, or inconclusive. The claim's band, seeds and reduced budget are never changed by a curve; a
    curve that makes the claim hold at a larger budget is shown as "reproduces at <axis> X" beside the reduced
    verdict. `note` says in words what the budget changes and why this axis (shown in the report).
    """

    claim: str
    axis: str  # what grows: "epochs", "training images", "image size", "iterations"
    values: tuple[float, ...]
    configure: Callable[[str, Any, Any], Any]
    seeds: int = 2
    profile: str = "reduced"
    note: str = ""

    def __post_init__(self) -> None:
        if len(self.values) < 3:
            raise ValueError(f"budget curve of {self.claim!r}: needs at least 3 budgets, got {list(self.values)}")
        if list(self.values) != sorted(set(self.values)):
            raise ValueError(f"budget curve of {self.claim!r}: budgets must be distinct and ascending, "
                             f"got {list(self.values)}")
        if self.seeds < 1:
            raise ValueError(f"budget curve of {self.claim!r}: seeds must be at least 1, got {self.seeds}")


@dataclass(frozen=True, kw_only=True)
class Diagnosis:
    """A diagnosis declared from evidence other than a budget curve: an independent check (a reference
    implementation, another update schedule) or a reading of the paper. Declared in paper.py as
    `Paper(..., diagnoses=(Diagnosis(...),))`; `python -m harness diagnose` records it (kind "diagnosis")
    and the tables and report show it beside the claim's reduced verdict, never instead of it.

    - kind "implementation suspected": an independent check disagrees with the twins; `evidence` names it.
    - kind "under-specified": the paper leaves out what decides the claim; `candidates` lists each reading
      tried and what it gave (at least two).
    - kinds "budget-limited" / "contradicted" are normally *computed* from a `BudgetCurve`; declaring one
      here needs evidence of another kind (e.g. runs made elsewhere), named in `evidence`.
    `summary` is one sentence shown in the tables; `evidence` lists where the proof is (test node ids,
    result files, commits) with its figures; `figures` holds the key numbers ({"torch sd ratio at 1e4": 1.02}).
    A claim with both a declared diagnosis and a budget curve shows both.
    """

    claim: str
    kind: DiagnosisKind
    summary: str
    evidence: tuple[str, ...]
    candidates: tuple[str, ...] = ()
    figures: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in DIAGNOSIS_KINDS:
            raise ValueError(f"diagnosis of {self.claim!r}: kind {self.kind!r} is not one of {DIAGNOSIS_KINDS}")
        if not self.summary.strip() or not self.evidence:
            raise ValueError(f"diagnosis of {self.claim!r}: needs a summary and at least one piece of evidence")
        if self.kind == "under-specified" and len(self.candidates) < 2:
            raise ValueError(f"diagnosis of {self.claim!r}: 'under-specified' needs the candidates tried "
                             "(at least two)")


# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Paper:
    key: str
    title: str
    citation: str
    year: int
    package: str  # the python package holding paper.py, torch_impl.py, tf_impl.py
    experiments: Sequence[Experiment] = ()
    claims: Sequence[Claim] = ()
    agreement: Sequence[AgreementCase] = ()
    deviations: Sequence[str] = ()
    tolerance_overrides: Sequence[ToleranceOverride] = ()
    mutations: Sequence[Mutation] = ()
    benchmarks: Sequence[BenchmarkCase] = ()
    notes: Mapping[str, str] = field(default_factory=dict)
    budget_curves: Sequence[BudgetCurve] = ()  # claim diagnoses by budget (harness.diagnosis)
    diagnoses: Sequence[Diagnosis] = ()  # claim diagnoses from other evidence
    # profile -> harness.profiles.DataNeed per experiment: what a run at that profile must find on disk
    data_needs: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    # experiment -> harness.plan.Workload: how much work one seed run is, for `reproduce --plan`
    workloads: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [e.name for e in self.experiments]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.key}: duplicate experiment names {names}")
        known, offered = set(names), self.profiles()
        for claim in self.claims:
            for exp, _metric in _claim_inputs(claim):
                if exp not in known:
                    raise ValueError(f"{self.key}: claim {claim.id!r} uses unknown experiment {exp!r}")
            if not isinstance(claim.setting, str):
                missing = [p for p in offered if p not in claim.setting]
                unknown = [p for p in claim.setting if p not in PROFILES]
                if missing or unknown:
                    raise ValueError(f"{self.key}: claim {claim.id!r} setting lacks profiles {missing} or names "
                                     f"unknown ones {unknown} (profiles: {', '.join(PROFILES)})")
        claim_ids = {c.id for c in self.claims}
        for d in (*self.budget_curves, *self.diagnoses):
            if d.claim not in claim_ids:
                raise ValueError(f"{self.key}: {type(d).__name__} names unknown claim {d.claim!r}")
        cases = {c.name for c in self.agreement}
        for m in self.mutations:
            if m.case not in cases:
                raise ValueError(f"{self.key}: mutation {m.name!r} uses unknown agreement case {m.case!r}")

    def experiment(self, name: str) -> Experiment:
        for e in self.experiments:
            if e.name == name:
                return e
        raise KeyError(name)

    def profiles(self) -> list[str]:
        return [p for p in PROFILES if all(p in e.configs for e in self.experiments)]


def _claim_inputs(claim: Claim) -> list[tuple[str, str]]:
    if isinstance(claim, Band):
        return [(claim.experiment, claim.metric)]
    if isinstance(claim, Ordering | Ratio):
        return [claim.a, claim.b]
    raise TypeError(f"unknown claim kind {type(claim).__name__}")


claim_inputs = _claim_inputs
