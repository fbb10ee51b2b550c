//! The journal's vocabulary and byte layout: operations, their MessagePack encoding, and the
//! CRC-checked frames that hold them. See `docs/FORMAT.md` for the specification. Optuna's
//! JSON-lines format has its own codec beside it (`optuna_codec`, see `docs/OPTUNA.md`).

pub mod codec;
pub mod frame;
pub mod json;
pub mod operation;
pub mod optuna_codec;

pub use operation::{LogBatch, OpCode, Operation, Target, TrialTemplate};
