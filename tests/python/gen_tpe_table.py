"""Generate tests/data/tpe_optuna_table.json: values computed by Optuna 5.0.0's own TPE code.

usage: python3 tests/python/gen_tpe_table.py > tests/data/tpe_optuna_table.json

The unit tests of trialog's TPE (src/study/sampler/tpe/) compare against this committed table:
- `truncnorm`: Optuna's truncated-normal helpers (log_ndtr, log_gauss_mass, ppf, logpdf) at
  fixed points, including far tails;
- `parzen`: Optuna's `_ParzenEstimator` built from fixed observations for every distribution kind
  (float, log float, stepped float, int, stepped int, log int, categorical) and a mixed
  multivariate space, with default and non-default parameters: the mixture weights, each kernel's
  mu and sigma (numerical) or choice probabilities (categorical), and log_pdf at fixed points;
- `split`: which trials Optuna's `_split_trials` puts below for fixed single- and multi-objective
  studies (including pruned and running trials).

Re-run it only to extend the table; the numbers must come from Optuna, never be edited by hand.
"""

from __future__ import annotations

import json
import math
import sys
import warnings

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers._tpe import _truncnorm
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
from optuna.samplers._tpe.probability_distributions import _BatchedCategoricalDistributions
from optuna.samplers._tpe.sampler import _split_trials, default_weights
from optuna.trial import TrialState, create_trial

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)
assert optuna.__version__ == "5.0.0", optuna.__version__


def floats(a) -> list[float]:
    return [float(x) for x in np.asarray(a, dtype=float).ravel()]


def dist_json(d) -> dict:
    if isinstance(d, FloatDistribution):
        return {"kind": "float", "low": d.low, "high": d.high, "log": d.log, "step": d.step}
    if isinstance(d, IntDistribution):
        return {"kind": "int", "low": d.low, "high": d.high, "log": d.log, "step": d.step}
    return {"kind": "categorical", "n_choices": len(d.choices)}


def truncnorm_table() -> dict:
    xs = [-40.0, -25.0, -20.5, -19.5, -8.0, -1.0, -0.5, 0.0, 0.3, 2.0, 5.9, 6.1, 12.0, 30.0]
    pairs = [
        (-1.0, 1.0), (-3.0, -2.0), (2.0, 3.0), (-30.0, -29.0), (29.0, 31.0), (-0.1, 50.0),
        (-50.0, 0.2), (0.0, 1e-9), (-5.0, 5.0), (-1e-3, 1e-3), (-25.0, -24.99), (7.0, 40.0),
    ]
    qs = [0.0, 1e-12, 0.01, 0.3, 0.5, 0.77, 0.999, 1.0 - 1e-12]
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    ppf = []
    for q in qs:
        ppf.append(floats(_truncnorm.ppf(np.full(len(pairs), q), a, b)))
    x_pdf = [-0.9, 0.0, 0.5, 1.0, 1.5]
    logpdf = [
        floats(_truncnorm.logpdf(np.array([x]), a=-2.0, b=1.2, loc=0.1, scale=0.7))[0]
        for x in [0.1 + 0.7 * z for z in x_pdf]
    ]
    return {
        "x": xs,
        "log_ndtr": floats(_truncnorm._log_ndtr(np.array(xs))),
        "pairs": [list(p) for p in pairs],
        "log_gauss_mass": floats(_truncnorm._log_gauss_mass(a, b)),
        "q": qs,
        "ppf": ppf,
        "logpdf_case": {"a": -2.0, "b": 1.2, "loc": 0.1, "scale": 0.7},
        "logpdf_x": [0.1 + 0.7 * z for z in x_pdf],
        "logpdf": logpdf,
    }


def params(prior_weight=1.0, magic_clip=True, endpoints=False) -> _ParzenEstimatorParameters:
    return _ParzenEstimatorParameters(
        prior_weight=prior_weight,
        consider_magic_clip=magic_clip,
        consider_endpoints=endpoints,
        weights=default_weights,
        multivariate=True,
    )


def parzen_case(name, space, obs, points, p=None, predetermined=None) -> dict:
    p = p or params()
    observations = {k: np.asarray(v, dtype=float) for k, v in obs.items()}
    pe = _ParzenEstimator(
        observations,
        space,
        p,
        None if predetermined is None else np.asarray(predetermined, dtype=float),
    )
    mix = pe._mixture_distribution
    kernels = []
    for d in mix.distributions:
        if isinstance(d, _BatchedCategoricalDistributions):
            kernels.append({"probs": [floats(row) for row in d.weights]})
        else:
            kernels.append({"mu": floats(d.mu), "sigma": floats(d.sigma)})
    samples = {k: np.asarray(v, dtype=float) for k, v in points.items()}
    return {
        "name": name,
        "space": [[k, dist_json(d)] for k, d in space.items()],
        "observations": {k: floats(v) for k, v in obs.items()},
        "prior_weight": p.prior_weight,
        "magic_clip": p.consider_magic_clip,
        "endpoints": p.consider_endpoints,
        "predetermined": None if predetermined is None else floats(predetermined),
        "weights": floats(mix.weights),
        "kernels": kernels,
        "points": {k: floats(v) for k, v in points.items()},
        "log_pdf": floats(pe.log_pdf(samples)),
    }


def parzen_table() -> list[dict]:
    rng = np.random.RandomState(7)
    f = FloatDistribution(-5.0, 5.0)
    flog = FloatDistribution(1e-4, 1.0, log=True)
    fstep = FloatDistribution(0.0, 1.0, step=0.1)
    i = IntDistribution(0, 10)
    istep = IntDistribution(0, 22, step=4)  # high adjusted to 20
    ilog = IntDistribution(1, 1000, log=True)
    c = CategoricalDistribution(["a", "b", "c", "d"])
    cases = []
    fpts = [-5.0, -4.99, -1.0, 0.0, 0.3, 2.5, 4.0, 5.0]
    cases.append(parzen_case("float_empty", {"x": f}, {"x": []}, {"x": fpts}))
    cases.append(parzen_case("float_one", {"x": f}, {"x": [1.5]}, {"x": fpts}))
    cases.append(parzen_case("float_three", {"x": f}, {"x": [1.5, -2.0, 4.9]}, {"x": fpts}))
    cases.append(
        parzen_case("float_dupes", {"x": f}, {"x": [0.5, 0.5, 0.5, -1.0]}, {"x": fpts})
    )
    obs30 = floats(rng.uniform(-5, 5, 30))
    cases.append(parzen_case("float_thirty_ramp", {"x": f}, {"x": obs30}, {"x": fpts}))
    cases.append(
        parzen_case(
            "float_endpoints_noclip",
            {"x": f},
            {"x": [1.5, -2.0, 4.9, 1.6]},
            {"x": fpts},
            p=params(prior_weight=0.5, magic_clip=False, endpoints=True),
        )
    )
    cases.append(
        parzen_case(
            "float_predetermined",
            {"x": f},
            {"x": [1.5, -2.0, 4.9]},
            {"x": fpts},
            predetermined=[1.0, 1.0, 1.0],
        )
    )
    cases.append(
        parzen_case(
            "float_log",
            {"x": flog},
            {"x": [1e-3, 0.5, 2e-4, 0.05]},
            {"x": [1e-4, 3e-4, 1e-3, 0.01, 0.2, 1.0]},
        )
    )
    cases.append(
        parzen_case(
            "float_step",
            {"x": fstep},
            {"x": [0.1, 0.5, 0.5, 1.0]},
            {"x": [0.0, 0.1, 0.2, 0.5, 0.9, 1.0]},
        )
    )
    cases.append(
        parzen_case("int", {"x": i}, {"x": [3, 7, 7, 0]}, {"x": [0, 1, 3, 5, 7, 10]})
    )
    cases.append(
        parzen_case("int_step", {"x": istep}, {"x": [4, 16, 20]}, {"x": [0, 4, 8, 12, 16, 20]})
    )
    cases.append(
        parzen_case(
            "int_log", {"x": ilog}, {"x": [1, 10, 500, 3]}, {"x": [1, 2, 9, 10, 100, 999, 1000]}
        )
    )
    cases.append(
        parzen_case("categorical", {"x": c}, {"x": [0, 2, 2, 3]}, {"x": [0, 1, 2, 3]})
    )
    cases.append(parzen_case("categorical_empty", {"x": c}, {"x": []}, {"x": [0, 1, 2, 3]}))
    cases.append(
        parzen_case(
            "categorical_prior_half",
            {"x": c},
            {"x": [1, 1]},
            {"x": [0, 1, 2, 3]},
            p=params(prior_weight=0.5),
        )
    )
    # In several dimensions, kernels of tied observations are not interchangeable, and numpy's
    # argsort orders ties in a platform-dependent way (SIMD sorts): the numerical observations
    # of this case are distinct so that the table does not depend on it.
    istep_wide = IntDistribution(0, 62, step=4)  # high adjusted to 60
    space = {"a": f, "b": flog, "c": fstep, "d": i, "e": istep_wide, "f": ilog, "g": c}
    n = 10
    obs = {
        "a": floats(rng.uniform(-5, 5, n)),
        "b": floats(np.exp(rng.uniform(math.log(1e-4), 0.0, n))),
        "c": floats(rng.choice(11, n, replace=False) / 10),
        "d": floats(rng.choice(11, n, replace=False)),
        "e": floats(rng.choice(16, n, replace=False) * 4),
        "f": floats(rng.choice(np.arange(1, 1001), n, replace=False)),
        "g": floats(rng.randint(0, 4, n)),
    }
    m = 9
    pts = {
        "a": floats(rng.uniform(-5, 5, m)),
        "b": floats(np.exp(rng.uniform(math.log(1e-4), 0.0, m))),
        "c": floats(np.round(rng.uniform(0, 1, m) * 10) / 10),
        "d": floats(rng.randint(0, 11, m)),
        "e": floats(rng.randint(0, 16, m) * 4),
        "f": floats(rng.randint(1, 1001, m)),
        "g": floats(rng.randint(0, 4, m)),
    }
    cases.append(parzen_case("mixed_multivariate", space, obs, pts))
    return cases


def split_table() -> list[dict]:
    out = []
    rng = np.random.RandomState(11)
    # Single objective, minimize and maximize, with pruned and running trials and value ties.
    for direction in ("minimize", "maximize"):
        study = optuna.create_study(direction=direction)
        trials = []
        values = [3.0, 1.0, 2.0, 1.0, 5.0, -1.0, 4.0, 0.5, 2.0, 7.0, 6.0, 0.0]
        for k, v in enumerate(values):
            trials.append(create_trial(value=v, params={}, distributions={}))
        pruned_iv = [{0: 1.0, 3: 2.0}, {0: 0.5}, {}, {0: 1.0, 3: float("nan")}, {1: -3.0}]
        for iv in pruned_iv:
            trials.append(
                create_trial(state=TrialState.PRUNED, intermediate_values=iv, params={},
                             distributions={})
            )
        trials.append(create_trial(state=TrialState.RUNNING, params={}, distributions={}))
        for number, t in enumerate(trials):
            t.number = number
        for n_below in (0, 1, 3, 12, 14, 40):
            below, above = _split_trials(study, trials, n_below)
            out.append(
                {
                    "directions": [direction],
                    "trials": [
                        {
                            "state": t.state.name,
                            "values": t.values,
                            "intermediate": [[s, v] for s, v in sorted(t.intermediate_values.items())],
                        }
                        for t in trials
                    ],
                    "n_below": n_below,
                    "below": [t.number for t in below],
                    "above": [t.number for t in above],
                }
            )
    # Multi-objective: non-domination ranks with an HSSP tie-break, 2 and 3 objectives.
    for directions in (["minimize", "maximize"], ["minimize", "minimize", "minimize"]):
        study = optuna.create_study(directions=directions)
        trials = []
        for k in range(25):
            vals = floats(np.round(rng.uniform(0, 10, len(directions)), 1))
            trials.append(create_trial(values=vals, params={}, distributions={}))
        # duplicates
        trials.append(create_trial(values=list(trials[3].values), params={}, distributions={}))
        trials.append(create_trial(values=list(trials[3].values), params={}, distributions={}))
        for number, t in enumerate(trials):
            t.number = number
        for n_below in (1, 3, 5, 8, 13, 27):
            below, above = _split_trials(study, trials, n_below)
            out.append(
                {
                    "directions": directions,
                    "trials": [
                        {"state": t.state.name, "values": t.values, "intermediate": []}
                        for t in trials
                    ],
                    "n_below": n_below,
                    "below": [t.number for t in below],
                    "above": [t.number for t in above],
                }
            )
    return out


def main() -> None:
    table = {
        "optuna": optuna.__version__,
        "truncnorm": truncnorm_table(),
        "parzen": parzen_table(),
        "split": split_table(),
    }
    json.dump(table, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
