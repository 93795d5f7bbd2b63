//! Pure domain rules: no client, no I/O. The operator's controllers and webhooks, the
//! billing daemon and `kubectl pbo` call them; each rule names its id from
//! `spec/requirements.md`.

pub mod acts;
pub mod admission;
pub mod audit;
pub mod billing;
pub mod calendar;
pub mod catalog;
pub mod clocks;
pub mod conditions;
pub mod confirmation;
#[cfg(any(test, feature = "examples"))]
pub mod examples;
pub mod naming;
pub mod ownership;
pub mod placement;
pub mod quality;
pub mod quantity;
pub mod refusal;
pub mod security;
pub mod software;
pub mod stages;
pub mod time;
