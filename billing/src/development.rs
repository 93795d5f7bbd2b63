//! The development cost calculator of R-EST-01 (order 653/НҚ, Appendix 3). Filled in by issue 7.
