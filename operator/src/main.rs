//! The operator's process: flags, telemetry, leader election, controllers, webhooks.

fn main() {}
