//! Unit tests of the generator: invariants and pins (invariants.rs), distributions against the
//! documented tables (distributions.rs).

use super::*;

mod distributions;
mod invariants;
