//! The journal's vocabulary and byte layout: operations, their MessagePack encoding, and the
//! CRC-checked frames that hold them. See `docs/FORMAT.md` for the specification.

pub mod codec;
pub mod frame;
pub mod operation;

pub use operation::{LogBatch, OpCode, Operation, TrialTemplate};
