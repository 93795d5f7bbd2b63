//! Billing's pure half (R-BIL-01..04, R-EST-01): the billing periods, the rows the
//! ledger keeps, tariffs and rating, the estimate before placement, the development
//! cost calculator and the report's content. The daemon (`billing/`) meters, stores,
//! renders, signs and delivers; every number it bills is decided here.

pub mod development;
pub mod estimate;
pub mod period;
pub mod rating;
pub mod report;
pub mod rows;
pub mod statement;
