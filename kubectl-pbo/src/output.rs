//! How a command prints: a table for people, JSON or YAML for scripts (`-o`).

use std::fmt::Write as _;
use std::io::IsTerminal;

use serde::Serialize;

/// The `-o/--output` format, as kubectl users expect it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Human-readable text and tables.
    #[default]
    Table,
    /// JSON, for scripts.
    Json,
    /// YAML, for scripts.
    Yaml,
}

impl Output {
    /// Serializes `value` as pretty JSON or YAML (with a final newline). `None` for
    /// the table format, which each command renders itself.
    pub fn serialize<T: Serialize>(self, value: &T) -> anyhow::Result<Option<String>> {
        Ok(match self {
            Output::Table => None,
            Output::Json => {
                let mut text = serde_json::to_string_pretty(value)?;
                text.push('\n');
                Some(text)
            }
            Output::Yaml => {
                // Through JSON so that the YAML has exactly the JSON's fields and order.
                let json = serde_json::to_value(value)?;
                let mut text = serde_saphyr::to_string(&json)
                    .map_err(|e| anyhow::anyhow!("cannot write YAML: {e}"))?;
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                Some(text)
            }
        })
    }
}

/// A colour for a cell or a word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Green,
    Yellow,
    Red,
    Bold,
}

impl Color {
    fn code(self) -> &'static str {
        match self {
            Color::Green => "32",
            Color::Yellow => "33",
            Color::Red => "31",
            Color::Bold => "1",
        }
    }
}

/// Whether to colour: only the table format, on a terminal, without `NO_COLOR`
/// (<https://no-color.org>: any non-empty value turns colour off).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    color: bool,
}

impl Style {
    /// No colour at all.
    #[cfg(test)]
    pub const PLAIN: Style = Style { color: false };

    /// Colour only for the table format on a terminal, and never with `NO_COLOR`.
    pub fn detect(output: Output) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style::decide(output, std::io::stdout().is_terminal(), no_color)
    }

    /// The decision of [`Style::detect`], from its inputs.
    pub fn decide(output: Output, tty: bool, no_color: bool) -> Style {
        Style {
            color: output == Output::Table && tty && !no_color,
        }
    }

    /// Whether this style colours.
    #[cfg(test)]
    pub fn colors(self) -> bool {
        self.color
    }

    /// `text` in `color`, or as is.
    pub fn paint(self, text: &str, color: Color) -> String {
        if self.color {
            format!("\x1b[{}m{text}\x1b[0m", color.code())
        } else {
            text.to_string()
        }
    }
}

/// One cell of a table, with an optional colour (applied after padding, so colour
/// codes never count towards the column width).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    text: String,
    color: Option<Color>,
}

impl Cell {
    /// A plain cell.
    pub fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            color: None,
        }
    }

    /// A coloured cell.
    pub fn colored(text: impl Into<String>, color: Color) -> Self {
        Self {
            text: text.into(),
            color: Some(color),
        }
    }
}

/// A row of plain cells.
pub fn plain(texts: &[&str]) -> Vec<Cell> {
    texts.iter().map(|t| Cell::plain(*t)).collect()
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell::plain(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::plain(text)
    }
}

/// A table with kubectl's look: upper-case headers, columns separated by three spaces,
/// the last column not padded.
#[derive(Clone, Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

/// Display width of a cell: one column per character (the texts here are Latin,
/// Cyrillic and digits, all one column wide).
fn width(text: &str) -> usize {
    text.chars().count()
}

impl Table {
    /// A table with these headers.
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| h.to_uppercase()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty).
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// The table as text, each line ending in a newline.
    pub fn render(&self, style: Style) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(width(&cell.text));
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: Vec<(String, Option<Color>)>| {
            let last = cells.len().saturating_sub(1);
            let mut text = String::new();
            for (i, (cell, color)) in cells.into_iter().enumerate() {
                let pad = if i == last {
                    0
                } else {
                    widths[i] - width(&cell) + 3
                };
                match color {
                    Some(c) => text.push_str(&style.paint(&cell, c)),
                    None => text.push_str(&cell),
                }
                text.push_str(&" ".repeat(pad));
            }
            let _ = writeln!(out, "{}", text.trim_end());
        };
        line(
            &mut out,
            self.headers
                .iter()
                .map(|h| (h.clone(), Some(Color::Bold)))
                .collect(),
        );
        for row in &self.rows {
            let cells = (0..columns)
                .map(|i| {
                    row.get(i)
                        .map(|c| (c.text.clone(), c.color))
                        .unwrap_or_default()
                })
                .collect();
            line(&mut out, cells);
        }
        out
    }
}

/// `key: value` lines with the values aligned.
#[derive(Clone, Debug, Default)]
pub struct Fields {
    items: Vec<(String, String, Option<Color>)>,
}

impl Fields {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field.
    pub fn add(&mut self, key: &str, value: impl Into<String>) {
        self.items.push((key.to_string(), value.into(), None));
    }

    /// Adds a coloured field.
    pub fn add_colored(&mut self, key: &str, value: impl Into<String>, color: Color) {
        self.items
            .push((key.to_string(), value.into(), Some(color)));
    }

    /// The fields as text.
    pub fn render(&self, style: Style) -> String {
        let w = self
            .items
            .iter()
            .map(|(k, _, _)| width(k))
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (key, value, color) in &self.items {
            let value = match color {
                Some(c) => style.paint(value, *c),
                None => value.clone(),
            };
            let label = format!("{key}:");
            let _ = writeln!(out, "{label:<w$}  {value}", w = w + 1);
        }
        out
    }
}

/// A section heading.
pub fn heading(style: Style, title: &str) -> String {
    format!("\n{}\n", style.paint(title, Color::Bold))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_with_cyrillic_and_colour() {
        let mut t = Table::new(&["name", "ready", "sites"]);
        t.row(vec![
            "Е-лицензия".into(),
            Cell::colored("yes", Color::Green),
            "ast-1".into(),
        ]);
        t.row(vec!["b".into(), Cell::colored("no", Color::Red), "".into()]);
        let plain = t.render(Style::PLAIN);
        assert_eq!(
            plain,
            "NAME         READY   SITES\nЕ-лицензия   yes     ast-1\nb            no\n"
        );
        // Colour codes wrap the text but do not move the columns.
        let coloured = t.render(Style::decide(Output::Table, true, false));
        let stripped = coloured
            .replace("\x1b[32m", "")
            .replace("\x1b[31m", "")
            .replace("\x1b[1m", "")
            .replace("\x1b[0m", "");
        assert_eq!(stripped, plain);
        assert!(coloured.contains("\x1b[32myes\x1b[0m"));
    }

    #[test]
    fn colour_only_on_a_terminal_for_tables_and_never_with_no_color() {
        assert!(Style::decide(Output::Table, true, false).colors());
        assert!(!Style::decide(Output::Table, false, false).colors());
        assert!(!Style::decide(Output::Table, true, true).colors());
        assert!(!Style::decide(Output::Json, true, false).colors());
        assert!(!Style::decide(Output::Yaml, true, false).colors());
    }

    #[test]
    fn json_and_yaml_serialize_the_same_fields() {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct V {
            stage_name: &'static str,
            n: u32,
        }
        let v = V {
            stage_name: "production",
            n: 2,
        };
        let json = Output::Json.serialize(&v).expect("json").expect("some");
        assert_eq!(json, "{\n  \"stageName\": \"production\",\n  \"n\": 2\n}\n");
        let yaml = Output::Yaml.serialize(&v).expect("yaml").expect("some");
        assert!(yaml.contains("stageName: production"), "{yaml}");
        assert!(Output::Table.serialize(&v).expect("table").is_none());
    }
}
