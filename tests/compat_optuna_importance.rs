//! The report's parameter importances are Optuna's: on studies written by Optuna (random
//! sampler, x clearly dominant), trialog's PED-ANOVA gives the numbers of
//! `optuna.importance.get_param_importances` (whose default evaluator is PED-ANOVA in Optuna 5)
//! to 1e-9, for a minimised, a maximised and each objective of a two-objective study; and
//! where scikit-learn is installed, fANOVA ranks the same parameter first.
#![cfg(feature = "report")]

mod py_common;

use std::collections::BTreeMap;

use py_common::{have_optuna, python, run_ok};
use trialog::journal::json::{self, JsonValue};
use trialog::report::stats::StudyStats;
use trialog::{AnyJournalFile, JournalStorage, Timestamp};

#[test]
fn importances_match_optunas_get_param_importances() {
    if !have_optuna("importances_match_optunas_get_param_importances") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("imp.log");
    let out = run_ok(&mut python("importance.py", &[journal.to_str().unwrap()]));
    let expected = json::parse(out.trim().as_bytes()).expect("the script prints JSON");

    let storage = JournalStorage::new(AnyJournalFile::open_existing(&journal).unwrap()).unwrap();
    for study in storage.get_all_studies().unwrap() {
        let trials = storage.get_all_trials(study.study_id, None).unwrap();
        let stats = StudyStats::compute(&study, &trials, Timestamp::now(), &Default::default());
        let JsonValue::Array(per_objective) = expected.get(&study.study_name).unwrap() else {
            panic!("no entry for study {}", study.study_name)
        };
        assert_eq!(per_objective.len(), stats.objectives.len());
        for (o, theirs) in stats.objectives.iter().zip(per_objective) {
            let ours = o.importances.as_ref().expect("300 trials are enough");
            let JsonValue::Object(ped) = theirs.get("ped_anova").unwrap() else { panic!() };
            let theirs: BTreeMap<&str, f64> =
                ped.iter().map(|(k, v)| (k.as_str(), v.as_f64().unwrap())).collect();
            let mine: BTreeMap<&str, f64> = ours.iter().map(|(k, v)| (&**k, *v)).collect();
            assert_eq!(mine.keys().collect::<Vec<_>>(), theirs.keys().collect::<Vec<_>>());
            for (name, v) in &theirs {
                assert!(
                    (mine[name] - v).abs() < 1e-9,
                    "{} objective {}: {name}: trialog {} vs Optuna {v}\n{mine:?}\n{theirs:?}",
                    study.study_name,
                    o.index,
                    mine[name]
                );
            }
            let dominant = if study.study_name == "moo" && o.index == 1 { "y" } else { "x" };
            assert_eq!(&*ours[0].0, dominant, "{}: {ours:?}", study.study_name);
            if let Some(JsonValue::Array(order)) = theirs_fanova(per_objective, o.index) {
                assert_eq!(order[0], JsonValue::Str(dominant.into()), "fANOVA disagrees");
            }
        }
    }
}

fn theirs_fanova(per_objective: &[JsonValue], i: usize) -> Option<&JsonValue> {
    per_objective[i].get("fanova_order").filter(|v| !matches!(v, JsonValue::Null))
}
