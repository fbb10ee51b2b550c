//! The search space as the report sees it: each parameter's domain (bounds, log scale, step,
//! choices), merged over the distributions the trials used.
//!
//! This is the one place in the report that looks inside a [`Distribution`]; everything else
//! works with [`Domain`] and with internal values from [`Distribution::to_internal`].

use std::sync::Arc;

use crate::model::{Distribution, FrozenTrial, ParamValue};

/// The values one distribution allows, in the internal representation (a float or int value, or a
/// categorical choice's index).
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// A float or int range `[low, high]`, log-scaled or not, on a grid of `step` if it has one.
    Numeric {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
        /// Sampled on a log scale (plots use a log axis).
        log: bool,
        /// Grid spacing (`None`: continuous float).
        step: Option<f64>,
        /// An int distribution.
        int: bool,
    },
    /// Categorical choices, shown by their Python `repr`-like text (index = internal value).
    Categorical {
        /// The choices' labels, in order.
        labels: Vec<String>,
    },
}

impl Domain {
    /// The domain of one distribution.
    pub fn of(d: &Distribution) -> Domain {
        match d {
            Distribution::Float(f) => Domain::Numeric {
                low: f.low(),
                high: f.high(),
                log: f.log(),
                step: f.step(),
                int: false,
            },
            Distribution::Int(i) => Domain::Numeric {
                low: i.low() as f64,
                high: i.high() as f64,
                log: i.log(),
                step: Some(i.step() as f64),
                int: true,
            },
            Distribution::Categorical(_) => {
                // The choices, through the public conversion: index i is choice i.
                let labels =
                    (0..).map_while(|i| d.to_external(f64::from(i))).map(|c| label(&c)).collect();
                Domain::Categorical { labels }
            }
        }
    }

    /// Optuna's `single()`: the domain holds exactly one value.
    pub fn single(&self) -> bool {
        match self {
            Domain::Numeric { low, high, log, step, .. } => {
                low == high || (!log && step.is_some_and(|s| high - low < s))
            }
            Domain::Categorical { labels } => labels.len() == 1,
        }
    }

    /// Widens a numeric domain to cover `other` as well (a study may change a parameter's
    /// bounds between trials); categorical domains keep their choices, which Optuna fixes per
    /// parameter name.
    fn merge(&mut self, other: &Domain) {
        if let (
            Domain::Numeric { low, high, step, .. },
            Domain::Numeric { low: l2, high: h2, step: s2, .. },
        ) = (self, other)
        {
            *low = low.min(*l2);
            *high = high.max(*h2);
            if step != s2 {
                *step = None;
            }
        }
    }
}

/// The text shown for a categorical choice.
pub fn label(v: &ParamValue) -> String {
    match v {
        ParamValue::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One parameter of the study: its name and the domain covering every trial's distribution.
#[derive(Debug, Clone)]
pub struct ParamSpace {
    /// The parameter's name.
    pub name: Arc<str>,
    /// The union of the domains of the distributions the trials used for it.
    pub domain: Domain,
}

/// Every parameter that appears in any trial, sorted by name, with merged domains.
pub fn params(trials: &[Arc<FrozenTrial>]) -> Vec<ParamSpace> {
    let mut out: Vec<ParamSpace> = Vec::new();
    let mut seen: Vec<(Arc<str>, Arc<Distribution>)> = Vec::new();
    for t in trials {
        for (name, dist) in t.distributions.iter() {
            // Trials share distribution allocations; skip the (name, dist) pairs already merged.
            if seen.iter().any(|(n, d)| n == name && (Arc::ptr_eq(d, dist) || d == dist)) {
                continue;
            }
            seen.push((name.clone(), dist.clone()));
            let domain = Domain::of(dist);
            match out.iter_mut().find(|p| &p.name == name) {
                Some(p) => p.domain.merge(&domain),
                None => out.push(ParamSpace { name: name.clone(), domain }),
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The internal value of parameter `name` in trial `t` (the value for float and int
/// parameters, the choice's index for categorical ones), if the trial has it.
pub fn internal(t: &FrozenTrial, name: &str) -> Option<f64> {
    let v = t.params.get(name)?;
    t.distributions.get(name)?.to_internal(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TrialState;

    fn trial(n: u64, params: &[(&str, ParamValue, Distribution)]) -> Arc<FrozenTrial> {
        let mut t = FrozenTrial::new(n, n, 0, TrialState::Complete);
        for (name, v, d) in params {
            let name: Arc<str> = Arc::from(*name);
            t.params.insert(name.clone(), v.clone());
            t.distributions.insert(name, Arc::new(d.clone()));
        }
        Arc::new(t)
    }

    #[test]
    fn domains_merge_over_trials_and_keep_choices() {
        let a = Distribution::float(0.0, 1.0, false, None).unwrap();
        let b = Distribution::float(-1.0, 0.5, false, None).unwrap();
        let c = Distribution::categorical(vec!["adam".into(), ParamValue::Int(3)]).unwrap();
        let ts = vec![
            trial(0, &[("x", ParamValue::Float(0.5), a), ("opt", "adam".into(), c.clone())]),
            trial(1, &[("x", ParamValue::Float(-0.5), b), ("opt", ParamValue::Int(3), c)]),
        ];
        let ps = params(&ts);
        assert_eq!(ps.len(), 2);
        assert_eq!(&*ps[0].name, "opt");
        assert_eq!(ps[0].domain, Domain::Categorical { labels: vec!["adam".into(), "3".into()] });
        assert_eq!(
            ps[1].domain,
            Domain::Numeric { low: -1.0, high: 1.0, log: false, step: None, int: false }
        );
        assert_eq!(internal(&ts[1], "opt"), Some(1.0));
        assert_eq!(internal(&ts[1], "x"), Some(-0.5));
        assert_eq!(internal(&ts[1], "nope"), None);
    }

    #[test]
    fn single_follows_optuna() {
        let single = |d: Distribution| Domain::of(&d).single();
        assert!(single(Distribution::float(1.0, 1.0, false, None).unwrap()));
        assert!(!single(Distribution::float(1.0, 2.0, false, None).unwrap()));
        assert!(single(Distribution::int(1, 2, false, 2).unwrap()));
        assert!(!single(Distribution::int(1, 3, false, 2).unwrap()));
        assert!(single(Distribution::categorical(vec![ParamValue::Null]).unwrap()));
    }
}
