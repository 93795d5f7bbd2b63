//! One reason to refuse input: the field, its value, the rule broken and the fix, so
//! that the user can act on the message alone. Every pure check returns these; the
//! webhooks answer with them.

use std::fmt;

/// One reason to refuse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The field path, e.g. `spec.environments.development.software[0].item`.
    pub field: String,
    /// The offending value as the user wrote it.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
    /// The rule id of `spec/requirements.md`, e.g. `R-SW-01`.
    pub rule: &'static str,
    /// What to do about it.
    pub fix: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} {} ({}): {}",
            self.field, self.value, self.problem, self.rule, self.fix
        )
    }
}
