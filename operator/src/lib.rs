//! The AKP operator: agencies, products and their environments, stage gates and legal
//! clocks, and the admission webhooks that keep placement, segmentation and the
//! software catalog.

pub mod rules;
