//! logveil: web-server access logs in, privacy-safe analytics out. The library holds the
//! pipeline; the `logveil` binary is a thin command-line layer over it.

pub mod agg;
pub mod anon;
pub mod anonymise;
pub mod audit;
pub mod checkformat;
pub mod days;
pub mod diag;
pub mod diagquery;
pub mod error;
pub mod geo;
pub mod ledger;
pub mod manifest;
pub mod merge;
pub mod parse;
pub mod pipeline;
pub mod progress;
pub mod publish;
pub mod report;
pub mod reports;
pub mod rotate;
pub mod scrub;
pub mod source;
pub mod store;
pub mod table;
pub mod timeopt;
pub mod tree;
pub mod txn;
pub mod ua;
pub mod visitors;

pub use error::{Error, Result};
