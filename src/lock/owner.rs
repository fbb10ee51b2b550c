//! TEMPORARY stub.
/// stub
#[derive(Debug)]
pub struct OwnerRecord;
