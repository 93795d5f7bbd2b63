//! Chain verification over runs of records (the online table, each archive file):
//! every record's hash is recomputed, consecutive records within a run are linked
//! directly, and the ends of runs are matched against each other at the end, so the
//! whole history is checked without holding it in memory.

use std::collections::BTreeMap;

use crate::record::Entry;

/// What verification found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked.
    pub records: u64,
    /// The first sequence number seen.
    pub first: Option<i64>,
    /// The last sequence number seen.
    pub last: Option<i64>,
    /// Every problem, naming the record.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// No problem found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Accumulates runs; [`ChainCheck::finish`] matches their ends.
#[derive(Debug, Default)]
pub struct ChainCheck {
    problems: Vec<String>,
    /// Last record of a run: seq → (hash, source).
    offers: BTreeMap<i64, (String, String)>,
    /// First record of a run: (seq, prev_hash, source).
    needs: Vec<(i64, String, String)>,
    /// The online table's anchor: the last archived record, as the database remembers it.
    anchor: Option<(i64, String)>,
    head: Option<(i64, String, String)>,
    records: u64,
    min: Option<i64>,
    max: Option<(i64, String)>,
}

/// One run of records in sequence order.
#[derive(Debug)]
pub struct Run {
    source: String,
    last: Option<(i64, String)>,
    problems: Vec<String>,
    offers: Vec<(i64, String)>,
    needs: Vec<(i64, String)>,
    records: u64,
    min: Option<i64>,
    max: Option<(i64, String)>,
}

impl Run {
    /// The next record of the run.
    pub fn push(&mut self, e: &Entry) {
        self.records += 1;
        self.min = Some(self.min.map_or(e.seq, |m| m.min(e.seq)));
        if self.max.as_ref().is_none_or(|(m, _)| e.seq > *m) {
            self.max = Some((e.seq, e.hash.clone()));
        }
        if !e.hash_matches() {
            self.problems.push(format!(
                "record {} ({}): its hash does not match its content: it was modified",
                e.seq, self.source
            ));
        }
        match &self.last {
            Some((s, h)) if e.seq == s + 1 => {
                if e.prev_hash != *h {
                    self.problems.push(format!(
                        "record {} ({}): does not chain to record {s}: one of them was replaced",
                        e.seq, self.source
                    ));
                }
            }
            Some((s, _)) if e.seq <= *s => self.problems.push(format!(
                "record {} ({}): out of order after record {s}",
                e.seq, self.source
            )),
            Some((s, h)) => {
                self.offers.push((*s, h.clone()));
                self.needs.push((e.seq, e.prev_hash.clone()));
            }
            None => self.needs.push((e.seq, e.prev_hash.clone())),
        }
        self.last = Some((e.seq, e.hash.clone()));
    }

    /// Hands the run's ends and findings to `check`.
    pub fn finish(mut self, check: &mut ChainCheck) {
        if let Some(last) = self.last.take() {
            self.offers.push(last);
        }
        check.problems.append(&mut self.problems);
        for (seq, hash) in self.offers {
            if let Some((_, other)) = check.offers.get(&seq) {
                check.problems.push(format!(
                    "record {seq} appears twice ({} and {})",
                    other, self.source
                ));
            } else {
                check.offers.insert(seq, (hash, self.source.clone()));
            }
        }
        for (seq, prev) in self.needs {
            check.needs.push((seq, prev, self.source.clone()));
        }
        check.records += self.records;
        if let Some(m) = self.min {
            check.min = Some(check.min.map_or(m, |c| c.min(m)));
        }
        if let Some((m, h)) = self.max
            && check.max.as_ref().is_none_or(|(c, _)| m > *c)
        {
            check.max = Some((m, h));
        }
    }
}

impl ChainCheck {
    /// A new check.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a run from `source` (for messages).
    pub fn run(&self, source: &str) -> Run {
        Run {
            source: source.to_owned(),
            last: None,
            problems: Vec::new(),
            offers: Vec::new(),
            needs: Vec::new(),
            records: 0,
            min: None,
            max: None,
        }
    }

    /// The online table chains from `(seq, hash)`: the last record archived.
    pub fn anchor(&mut self, _source: &str, seq: i64, hash: &str) {
        self.anchor = Some((seq, hash.to_owned()));
    }

    /// The chain ends at `(seq, hash)`, as the store's head says.
    pub fn head(&mut self, source: &str, seq: i64, hash: &str) {
        self.head = Some((seq, hash.to_owned(), source.to_owned()));
    }

    /// A problem found outside the runs (an archive file that does not match its
    /// manifest).
    pub fn problem(&mut self, message: String) {
        self.problems.push(message);
    }

    /// Matches the runs' ends and reports.
    pub fn finish(mut self) -> VerifyReport {
        let start = self.needs.iter().map(|n| n.0).min();
        // Records before the oldest kept can only be missing if retention ran.
        let purged = self.anchor.as_ref().is_none_or(|(a, _)| *a > 0);
        for (seq, prev, source) in std::mem::take(&mut self.needs) {
            if let Some((hash, from)) = self.offers.get(&(seq - 1)) {
                if *hash != prev {
                    self.problems.push(format!(
                        "record {seq} ({source}) does not chain to record {} ({from}): one of them was replaced",
                        seq - 1
                    ));
                }
                continue;
            }
            if seq == 1 {
                if !prev.is_empty() {
                    self.problems
                        .push(format!("record 1 ({source}) claims a predecessor"));
                }
                continue;
            }
            let anchored = self
                .anchor
                .as_ref()
                .is_some_and(|(a, h)| *a == seq - 1 && *h == prev);
            // The oldest record kept may follow records purged after the retention period.
            if anchored || (purged && Some(seq) == start) {
                continue;
            }
            self.problems.push(format!(
                "record {} is missing: record {seq} ({source}) chains to it",
                seq - 1
            ));
        }
        if let Some((a, _)) = &self.anchor
            && *a > 0
            && self.min.is_some_and(|m| m > a + 1)
            && !self.offers.contains_key(a)
        {
            self.problems.push(format!(
                "records {}..{} are missing after the archived record {a}",
                a + 1,
                self.min.unwrap_or(0) - 1
            ));
        }
        if let Some((seq, hash, source)) = &self.head {
            match &self.max {
                Some((m, h)) if m == seq && h == hash => {}
                Some((m, _)) if m < seq => self.problems.push(format!(
                    "records {}..{seq} are missing: the {source} chain ends at {seq}",
                    m + 1
                )),
                Some((m, _)) => self.problems.push(format!(
                    "record {m} does not end the {source} chain as recorded (head {seq})"
                )),
                None if *seq > self.anchor.as_ref().map_or(0, |a| a.0) => self.problems.push(
                    format!("the {source} chain ends at record {seq} but no record is left"),
                ),
                None => {}
            }
        }
        if let (Some(min), Some((max, _))) = (self.min, &self.max) {
            let span = u64::try_from(max - min + 1).unwrap_or(0);
            if self.records > span {
                self.problems.push(format!(
                    "{} records for sequence numbers {min}..{max}: some appear twice",
                    self.records
                ));
            }
        }
        VerifyReport {
            records: self.records,
            first: self.min,
            last: self.max.map(|m| m.0),
            problems: self.problems,
        }
    }
}
