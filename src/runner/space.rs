//! The search space of a run: named distributions in a fixed order, parsed from `--param` specs
//! (`lr=float:1e-5..1e-1:log`), checked against a study's existing trials with Optuna's
//! compatibility rule, and enumerated when finite.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::journal::json::{self, JsonValue};
use crate::model::{Distribution, FrozenTrial, ParamValue};

/// Most points [`SearchSpace::grid`] enumerates (a grid sampler enqueues one trial per point).
pub const MAX_GRID_POINTS: u128 = 1_000_000;

/// Named distributions, in the order the command line (or space file) gave them; names are
/// unique. The order is the order parameters are suggested in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchSpace {
    params: Vec<(String, Distribution)>,
}

impl SearchSpace {
    /// An empty space.
    pub fn new() -> Self {
        SearchSpace::default()
    }

    /// Adds parameter `name`; `InvalidArgument` if the name is empty or already taken.
    pub fn add(&mut self, name: &str, dist: Distribution) -> Result<()> {
        if name.is_empty() {
            return Err(Error::invalid("a parameter needs a name"));
        }
        if self.get(name).is_some() {
            return Err(Error::invalid(format_args!("parameter {name:?} is defined twice")));
        }
        self.params.push((name.to_owned(), dist));
        Ok(())
    }

    /// Parses and adds one `--param` spec (see [`parse_spec`]).
    pub fn add_spec(&mut self, spec: &str) -> Result<()> {
        let (name, dist) = parse_spec(spec)?;
        self.add(&name, dist)
    }

    /// The parameters in order.
    pub fn params(&self) -> &[(String, Distribution)] {
        &self.params
    }

    /// The distribution of `name`.
    pub fn get(&self, name: &str) -> Option<&Distribution> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, d)| d)
    }

    /// Whether the space has no parameter.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// The number of points when every distribution is discrete (categorical, int, or float
    /// with a step), saturating at `u128::MAX`; `None` when some distribution is continuous.
    pub fn size(&self) -> Option<u128> {
        self.params.iter().try_fold(1u128, |acc, (_, d)| Some(acc.saturating_mul(points(d)?)))
    }

    /// Every value of each parameter, for a grid sampler. `InvalidArgument` for a continuous
    /// distribution or more than [`MAX_GRID_POINTS`] points.
    pub fn grid(&self) -> Result<Vec<(String, Vec<ParamValue>)>> {
        match self.size() {
            None => {
                let (name, _) = self.params.iter().find(|(_, d)| points(d).is_none()).expect("");
                return Err(Error::invalid(format_args!(
                    "the grid sampler needs a finite space, and {name:?} is continuous (give it a \
                     step, or use another sampler)"
                )));
            }
            Some(n) if n > MAX_GRID_POINTS => {
                return Err(Error::invalid(format_args!(
                    "the grid has {n} points, more than the {MAX_GRID_POINTS} the grid sampler \
                     enqueues"
                )));
            }
            Some(_) => {}
        }
        Ok(self.params.iter().map(|(name, d)| (name.clone(), values(d))).collect())
    }

    /// Optuna's compatibility rule against a study's existing trials: every parameter of this
    /// space that a trial already has must keep that trial's distribution class, log flag and
    /// categorical choices (bounds and steps may change). The error names the parameter and the
    /// trial.
    pub fn check_compatible(&self, trials: &[Arc<FrozenTrial>]) -> Result<()> {
        for (name, dist) in &self.params {
            let seen =
                trials.iter().find_map(|t| Some((t.number, t.distributions.get(name.as_str())?)));
            if let Some((number, existing)) = seen {
                existing.check_compatible(name, dist).map_err(|e| {
                    Error::invalid(format_args!(
                        "the space is incompatible with study trial {number}: {e} (it has \
                         {name:?} as {})",
                        describe(existing)
                    ))
                })?;
            }
        }
        Ok(())
    }
}

/// Parses one `--param` spec `NAME=KIND:ARGS` (`InvalidArgument` naming the spec otherwise):
///
/// * `lr=float:1e-5..1e-1`, with `:log` and/or `:step=0.01` options;
/// * `layers=int:1..8`, with `:log` and/or `:step=2`;
/// * `opt=cat:adam,sgd` (also `categorical:`): choices separated by commas, each read as JSON
///   when it is a JSON scalar (`1`, `0.5`, `true`, `null`, `"a,b"`) and as a bare string
///   otherwise.
pub fn parse_spec(spec: &str) -> Result<(String, Distribution)> {
    let bad = |why: &str| {
        Error::invalid(format_args!(
            "malformed --param {spec:?}: {why} (expected NAME=float:LOW..HIGH[:log][:step=S], \
             NAME=int:LOW..HIGH[:log][:step=S] or NAME=cat:A,B,...)"
        ))
    };
    let (name, rest) = spec.split_once('=').ok_or_else(|| bad("no '='"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(bad("no name before '='"));
    }
    let (kind, args) = rest.split_once(':').ok_or_else(|| bad("no ':' after the kind"))?;
    let dist = match kind.trim() {
        "float" | "int" => {
            let mut parts = args.split(':');
            let range = parts.next().unwrap_or_default();
            let (low, high) = range.split_once("..").ok_or_else(|| bad("no LOW..HIGH range"))?;
            let (mut log, mut step) = (false, None);
            for option in parts {
                match option.trim() {
                    "log" => log = true,
                    o => match o.strip_prefix("step=") {
                        Some(s) => step = Some(s.trim()),
                        None => return Err(bad(&format!("unknown option {o:?}"))),
                    },
                }
            }
            if kind.trim() == "float" {
                let num = |s: &str| {
                    s.trim().parse::<f64>().map_err(|_| bad(&format!("{s:?} is not a number")))
                };
                let step = step.map(num).transpose()?;
                Distribution::float(num(low)?, num(high)?, log, step)
            } else {
                let int = |s: &str| {
                    s.trim().parse::<i64>().map_err(|_| bad(&format!("{s:?} is not an integer")))
                };
                let step = step.map(int).transpose()?.unwrap_or(1);
                Distribution::int(int(low)?, int(high)?, log, step)
            }
            .map_err(|e| bad(&reason(&e)))?
        }
        "cat" | "categorical" => {
            let choices = split_choices(args).map_err(|why| bad(&why))?;
            let mut values: Vec<ParamValue> = Vec::new();
            for c in &choices {
                let v = choice_value(c);
                if values.contains(&v) {
                    return Err(bad(&format!("choice {c:?} is given twice")));
                }
                values.push(v);
            }
            Distribution::categorical(values).map_err(|e| bad(&reason(&e)))?
        }
        other => return Err(bad(&format!("unknown kind {other:?}"))),
    };
    Ok((name.to_owned(), dist))
}

/// A categorical choice or parameter value written on a command line: a JSON scalar if it is one
/// (`3`, `0.5`, `true`, `null`, `"quoted"`), else the text itself as a string.
pub fn choice_value(text: &str) -> ParamValue {
    let text = text.trim();
    match json::parse(text.as_bytes()) {
        Ok(JsonValue::Null) => ParamValue::Null,
        Ok(JsonValue::Bool(b)) => ParamValue::Bool(b),
        Ok(JsonValue::Int(i)) => ParamValue::Int(i),
        Ok(JsonValue::Float(x)) => ParamValue::Float(x),
        Ok(JsonValue::Str(s)) => ParamValue::Str(s),
        _ => ParamValue::Str(text.to_owned()),
    }
}

/// Splits `a,"b,c",d` at the commas outside double quotes.
fn split_choices(args: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in args.chars() {
        match c {
            _ if escaped => {
                escaped = false;
                current.push(c);
            }
            '\\' if quoted => {
                escaped = true;
                current.push(c);
            }
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote".to_owned());
    }
    out.push(current);
    if out.iter().any(|c| c.trim().is_empty()) {
        return Err("an empty choice".to_owned());
    }
    Ok(out)
}

/// An error's message without the "invalid argument: " prefix.
pub(crate) fn reason(e: &Error) -> String {
    match e {
        Error::InvalidArgument(why) => why.clone(),
        e => e.to_string(),
    }
}

/// How many values a discrete distribution has (`None` for a continuous one).
fn points(d: &Distribution) -> Option<u128> {
    match d {
        Distribution::Categorical(c) => Some(c.choices().len() as u128),
        Distribution::Int(i) => {
            let span = (i128::from(i.high()) - i128::from(i.low())) as u128;
            Some(span / i.step() as u128 + 1)
        }
        Distribution::Float(f) => {
            let step = f.step()?;
            Some(((f.high() - f.low()) / step).round() as u128 + 1)
        }
    }
}

/// Every value of a discrete distribution, in order (the caller checked the count).
fn values(d: &Distribution) -> Vec<ParamValue> {
    match d {
        Distribution::Categorical(c) => c.choices().to_vec(),
        Distribution::Int(i) => (0..points(d).unwrap_or(0) as i64)
            .map(|k| ParamValue::Int(i.low() + k * i.step()))
            .collect(),
        Distribution::Float(f) => {
            let step = f.step().unwrap_or(1.0);
            (0..points(d).unwrap_or(0) as u64)
                .map(|k| ParamValue::Float((f.low() + k as f64 * step).min(f.high())))
                .collect()
        }
    }
}

/// A distribution as a `--param` spec would write it (without the name), for messages.
pub fn describe(d: &Distribution) -> String {
    match d {
        Distribution::Float(f) => {
            let mut s = format!("float:{}..{}", f.low(), f.high());
            if f.log() {
                s.push_str(":log");
            }
            if let Some(step) = f.step() {
                s.push_str(&format!(":step={step}"));
            }
            s
        }
        Distribution::Int(i) => {
            let mut s = format!("int:{}..{}", i.low(), i.high());
            if i.log() {
                s.push_str(":log");
            }
            if i.step() != 1 {
                s.push_str(&format!(":step={}", i.step()));
            }
            s
        }
        Distribution::Categorical(c) => {
            let choices: Vec<String> = c.choices().iter().map(|v| v.to_string()).collect();
            format!("cat:{}", choices.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TrialState;

    #[test]
    fn every_distribution_kind_parses() {
        let (n, d) = parse_spec("lr=float:1e-5..1e-1:log").unwrap();
        assert_eq!(n, "lr");
        assert_eq!(d, Distribution::float(1e-5, 0.1, true, None).unwrap());
        let (_, d) = parse_spec("x=float:0..1:step=0.25").unwrap();
        assert_eq!(d, Distribution::float(0.0, 1.0, false, Some(0.25)).unwrap());
        let (_, d) = parse_spec("layers=int:1..8").unwrap();
        assert_eq!(d, Distribution::int(1, 8, false, 1).unwrap());
        let (_, d) = parse_spec("units=int:16..1024:log").unwrap();
        assert_eq!(d, Distribution::int(16, 1024, true, 1).unwrap());
        let (_, d) = parse_spec("batch=int:0..100:step=10").unwrap();
        assert_eq!(d, Distribution::int(0, 100, false, 10).unwrap());
        let (_, d) = parse_spec("opt=cat:adam,sgd").unwrap();
        assert_eq!(d, Distribution::categorical(vec!["adam".into(), "sgd".into()]).unwrap());
        let (_, d) = parse_spec("mix=categorical:1,0.5,true,null,\"a,b\",plain").unwrap();
        let want = vec![
            ParamValue::Int(1),
            ParamValue::Float(0.5),
            ParamValue::Bool(true),
            ParamValue::Null,
            ParamValue::Str("a,b".into()),
            ParamValue::Str("plain".into()),
        ];
        assert_eq!(d, Distribution::categorical(want).unwrap());
    }

    #[test]
    fn malformed_specs_say_what_is_wrong() {
        for (spec, why) in [
            ("lr", "no '='"),
            ("=float:0..1", "no name"),
            ("lr=float", "no ':'"),
            ("lr=float:0", "no LOW..HIGH"),
            ("lr=float:a..1", "\"a\" is not a number"),
            ("n=int:1..2.5", "is not an integer"),
            ("lr=float:0..1:cubic", "unknown option"),
            ("lr=gauss:0..1", "unknown kind"),
            ("lr=float:1..0", "malformed"),
            ("lr=float:0..1:log", "malformed"),
            ("o=cat:a,,b", "an empty choice"),
            ("o=cat:a,a", "given twice"),
            ("o=cat:\"a", "unterminated"),
        ] {
            let e = parse_spec(spec).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains(&format!("{spec:?}")), "{spec}: {e}");
        }
        let mut space = SearchSpace::new();
        space.add_spec("x=int:0..1").unwrap();
        assert!(space.add_spec("x=int:0..2").unwrap_err().to_string().contains("twice"));
    }

    #[test]
    fn finite_spaces_are_counted_and_enumerated() {
        let mut space = SearchSpace::new();
        space.add_spec("a=int:0..10:step=5").unwrap();
        space.add_spec("b=cat:x,y").unwrap();
        space.add_spec("c=float:0..1:step=0.5").unwrap();
        assert_eq!(space.size(), Some(18));
        let grid = space.grid().unwrap();
        assert_eq!(grid[0].1, vec![ParamValue::Int(0), ParamValue::Int(5), ParamValue::Int(10)]);
        assert_eq!(
            grid[2].1,
            vec![ParamValue::Float(0.0), ParamValue::Float(0.5), ParamValue::Float(1.0)]
        );
        space.add_spec("d=float:0..1").unwrap();
        assert_eq!(space.size(), None);
        assert!(space.grid().unwrap_err().to_string().contains("\"d\" is continuous"));
    }

    #[test]
    fn compatibility_follows_optuna() {
        let mut t = FrozenTrial::new(0, 4, 0, TrialState::Complete);
        let dist = Distribution::float(0.1, 1.0, true, None).unwrap();
        t.params.insert("lr".into(), ParamValue::Float(0.5));
        t.distributions.insert("lr".into(), Arc::new(dist));
        let trials = vec![Arc::new(t)];
        let mut same_class = SearchSpace::new();
        same_class.add_spec("lr=float:0.01..2:log").unwrap();
        same_class.check_compatible(&trials).unwrap();
        let mut not_log = SearchSpace::new();
        not_log.add_spec("lr=float:0.01..2").unwrap();
        let e = not_log.check_compatible(&trials).unwrap_err().to_string();
        assert!(e.contains("trial 4") && e.contains("log"), "{e}");
        let mut other_kind = SearchSpace::new();
        other_kind.add_spec("lr=int:1..2").unwrap();
        assert!(other_kind.check_compatible(&trials).is_err());
    }
}
