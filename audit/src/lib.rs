//! The audit trail (R-MON-02): every admission decision, stage change and billing action,
//! with time, actor, object and decision; queryable; 2 months online, 3 years retained.
