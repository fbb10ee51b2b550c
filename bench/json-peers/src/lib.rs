//! Nothing: see benches/parse.rs.
