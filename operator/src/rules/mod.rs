//! Pure domain rules: no client, no I/O. The controllers and webhooks call them; each
//! rule names its id from `spec/requirements.md`.

pub mod calendar;
pub mod catalog;
pub mod clocks;
pub mod naming;
pub mod ownership;
pub mod placement;
pub mod quantity;
pub mod stages;
