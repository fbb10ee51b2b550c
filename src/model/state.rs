//! Study directions and trial states, with Optuna's integer codes.

use std::fmt;

/// The direction of one objective. Codes as in Optuna: NOT_SET=0, MINIMIZE=1, MAXIMIZE=2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StudyDirection {
    /// Not decided (Optuna's default before a study has a direction).
    NotSet = 0,
    /// Smaller is better.
    Minimize = 1,
    /// Larger is better.
    Maximize = 2,
}

impl StudyDirection {
    /// Optuna's integer code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The direction with Optuna's integer code `code`, if any.
    pub fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            0 => StudyDirection::NotSet,
            1 => StudyDirection::Minimize,
            2 => StudyDirection::Maximize,
            _ => return None,
        })
    }

    /// Optuna's enum name ("MINIMIZE", ...).
    pub fn name(self) -> &'static str {
        match self {
            StudyDirection::NotSet => "NOT_SET",
            StudyDirection::Minimize => "MINIMIZE",
            StudyDirection::Maximize => "MAXIMIZE",
        }
    }
}

impl fmt::Display for StudyDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The state of a trial. Codes as in Optuna: RUNNING=0, COMPLETE=1, PRUNED=2, FAIL=3, WAITING=4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TrialState {
    /// Being evaluated by a worker.
    Running = 0,
    /// Finished with objective values.
    Complete = 1,
    /// Stopped early by a pruner.
    Pruned = 2,
    /// The objective failed.
    Fail = 3,
    /// Enqueued; no worker has claimed it yet.
    Waiting = 4,
}

impl TrialState {
    /// All states, in code order.
    pub const ALL: [TrialState; 5] = [
        TrialState::Running,
        TrialState::Complete,
        TrialState::Pruned,
        TrialState::Fail,
        TrialState::Waiting,
    ];

    /// Optuna's integer code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The state with Optuna's integer code `code`, if any.
    pub fn from_code(code: u64) -> Option<Self> {
        Self::ALL.get(usize::try_from(code).ok()?).copied()
    }

    /// COMPLETE, PRUNED and FAIL are final: a finished trial never changes again.
    pub fn is_finished(self) -> bool {
        matches!(self, TrialState::Complete | TrialState::Pruned | TrialState::Fail)
    }

    /// Optuna's enum name ("COMPLETE", ...).
    pub fn name(self) -> &'static str {
        match self {
            TrialState::Running => "RUNNING",
            TrialState::Complete => "COMPLETE",
            TrialState::Pruned => "PRUNED",
            TrialState::Fail => "FAIL",
            TrialState::Waiting => "WAITING",
        }
    }
}

impl fmt::Display for TrialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_optuna() {
        assert_eq!(StudyDirection::Maximize.code(), 2);
        assert_eq!(StudyDirection::from_code(1), Some(StudyDirection::Minimize));
        assert_eq!(StudyDirection::from_code(3), None);
        for (i, s) in TrialState::ALL.iter().enumerate() {
            assert_eq!(usize::from(s.code()), i);
            assert_eq!(TrialState::from_code(i as u64), Some(*s));
        }
        assert_eq!(TrialState::Waiting.code(), 4);
        assert_eq!(TrialState::from_code(5), None);
        assert!(TrialState::Fail.is_finished() && !TrialState::Waiting.is_finished());
    }
}
