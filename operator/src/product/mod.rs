//! The product controller, as a pipeline: `validate` (pure) → `build` (pure) →
//! `apply` (writes only what differs) → `status` (pure, from what was applied).

pub mod build;
pub mod controller;
pub mod segmentation;
pub mod status;
pub mod validate;
