//! The results table: printed at the end and written to `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::time::Duration;

/// One line of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// What was measured.
    pub bench: String,
    /// The project's number.
    pub measured: String,
    /// The floor's number, if there is a floor.
    pub floor: String,
    /// measured / floor.
    pub ratio: Option<f64>,
    /// The target.
    pub target: String,
    /// Whether the target is met (`None`: informational).
    pub met: Option<bool>,
}

/// All results of a run, with free-text notes (breakdowns, what limits a number).
#[derive(Clone, Debug, Default)]
pub struct Results {
    /// Table lines.
    pub rows: Vec<Row>,
    /// Notes, printed under the table.
    pub notes: Vec<String>,
}

/// Seconds with 2 decimals.
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

impl Results {
    /// A timed benchmark against its floor, with a ratio target.
    pub fn ratio(&mut self, bench: &str, measured: Duration, floor: Duration, target: f64) {
        let ratio = measured.as_secs_f64() / floor.as_secs_f64().max(1e-9);
        self.rows.push(Row {
            bench: bench.into(),
            measured: secs(measured),
            floor: secs(floor),
            ratio: Some(ratio),
            target: format!("≤ {target}×"),
            met: Some(ratio <= target),
        });
    }

    /// A number with a target but no floor.
    pub fn value(&mut self, bench: &str, measured: String, target: &str, met: Option<bool>) {
        self.rows.push(Row {
            bench: bench.into(),
            measured,
            floor: "—".into(),
            ratio: None,
            target: target.into(),
            met,
        });
    }

    /// A note.
    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        eprintln!("note: {text}");
        self.notes.push(text);
    }

    fn cells(row: &Row) -> [String; 6] {
        [
            row.bench.clone(),
            row.measured.clone(),
            row.floor.clone(),
            row.ratio.map_or("—".into(), |r| format!("{r:.2}")),
            row.target.clone(),
            match row.met {
                Some(true) => "yes".into(),
                Some(false) => "NO".into(),
                None => "—".into(),
            },
        ]
    }

    const HEADER: [&'static str; 6] = ["benchmark", "measured", "floor", "ratio", "target", "met?"];

    /// A plain-text table for the terminal.
    pub fn render_text(&self) -> String {
        let rows: Vec<[String; 6]> = self.rows.iter().map(Self::cells).collect();
        let mut width = Self::HEADER.map(|h| h.chars().count());
        for r in &rows {
            for (w, c) in width.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, (c, w)) in cells.iter().zip(width).enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                out.push_str(c);
                out.extend(std::iter::repeat_n(' ', w - c.chars().count()));
            }
            out.trim_end().to_string()
        };
        let mut out = String::new();
        let _ = writeln!(out, "{}", line(&Self::HEADER.map(String::from)));
        let _ = writeln!(out, "{}", line(&width.map(|w| "-".repeat(w))));
        for r in &rows {
            let _ = writeln!(out, "{}", line(r));
        }
        for n in &self.notes {
            let _ = writeln!(out, "- {n}");
        }
        out
    }

    /// The table as Markdown.
    pub fn render_markdown_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "| {} |", Self::HEADER.join(" | "));
        let _ = writeln!(out, "|---|---:|---:|---:|---|---|");
        for r in &self.rows {
            let _ = writeln!(out, "| {} |", Self::cells(r).join(" | "));
        }
        out
    }
}
