"""Optuna's parameter importances for the report's compatibility test.

usage: python3 importance.py JOURNAL

Writes three studies to the Optuna journal JOURNAL with a random sampler (fixed seed), in each of
which parameter x clearly dominates, and prints one JSON object: for each study and objective,
`optuna.importance.get_param_importances` with its default evaluator (PED-ANOVA in Optuna 5;
for the multi-objective study with `target` set to one objective, negated where maximised), and
the fANOVA ranking when scikit-learn is installed (else null).
"""

import json
import math
import sys
import warnings

import optuna
from optuna.importance import FanovaImportanceEvaluator, get_param_importances
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)

storage = JournalStorage(JournalFileBackend(sys.argv[1]))


def suggest(trial):
    x = trial.suggest_float("x", -10.0, 10.0)
    y = trial.suggest_float("y", -10.0, 10.0)
    w = trial.suggest_float("w", 1e-3, 10.0, log=True)
    k = trial.suggest_int("k", 0, 20)
    s = trial.suggest_int("s", 0, 100, step=5)
    c = trial.suggest_categorical("c", ["a", "b", "c"])
    loss = x**2 + 0.05 * y**2 + 0.1 * math.log10(w) ** 2 + 0.01 * k + 0.001 * s
    return loss + (0.3 if c == "b" else 0.0)


def fanova(study, **kw):
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return None
    imp = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0), **kw)
    return list(imp)


out = {}
sampler = optuna.samplers.RandomSampler(seed=3)
mini = optuna.create_study(storage=storage, study_name="min", sampler=sampler)
mini.optimize(suggest, n_trials=300)
out["min"] = [{"ped_anova": get_param_importances(mini), "fanova_order": fanova(mini)}]

maxi = optuna.create_study(
    storage=storage, study_name="max", direction="maximize", sampler=sampler
)
maxi.optimize(lambda t: -suggest(t), n_trials=300)
out["max"] = [{"ped_anova": get_param_importances(maxi), "fanova_order": fanova(maxi)}]

moo = optuna.create_study(
    storage=storage, study_name="moo", directions=["minimize", "maximize"], sampler=sampler
)
moo.optimize(lambda t: (suggest(t), -abs(t.params["y"])), n_trials=300)
out["moo"] = [
    {
        "ped_anova": get_param_importances(moo, target=lambda t: t.values[0]),
        "fanova_order": fanova(moo, target=lambda t: t.values[0]),
    },
    {
        "ped_anova": get_param_importances(moo, target=lambda t: -t.values[1]),
        "fanova_order": fanova(moo, target=lambda t: -t.values[1]),
    },
]
print(json.dumps(out))
