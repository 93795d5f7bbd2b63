//! The HTML report for people, in Kazakh or Russian (R-BIL-02, issue 19): a document
//! the authorized body can file. Issuer, recipient, number and date, the period as
//! Astana civil dates, the agencies by name and BIN, a summary agency × category, the
//! lines to pay first and the others after them (each with its list amount), charts
//! with axes and printed values, a signature block, and print rules for A4.
//!
//! Rendered from `billing/templates/report.html` by askama: every `{{ }}` is
//! HTML-escaped by construction, and the template is compiled (and type-checked)
//! with the crate. No JavaScript and no external resources: the file is
//! self-contained and its bytes depend only on the content.

use askama::Template;
use rust_decimal::Decimal;

use super::i18n::{self, Labels};
use super::words::{Lang, amount_in_words, date, money, number, percent};
use super::{AgencyReport, LineReport, ReportDocument, Totals};

/// Amount in whole tiyn from a decimal string (0 if unreadable); charts scale integers.
fn tiyn(text: &str) -> i128 {
    Decimal::from_str_exact(text)
        .ok()
        .and_then(|mut d| {
            d.rescale(2);
            (d.scale() == 2).then(|| d.mantissa())
        })
        .unwrap_or(0)
}

/// A term's translation, or its identifier where there is none (the ASCII-word test
/// catches those).
fn or_id(t: Option<&'static str>, id: &str) -> String {
    t.map(str::to_string).unwrap_or_else(|| id.to_string())
}

/// Lines of one kind (to pay, not billed), per agency.
struct LineSection {
    title: &'static str,
    agencies: Vec<AgencyView>,
}

/// A party on the document.
struct PartyView {
    name: String,
    bin: String,
    address: String,
}

/// The document's identity.
struct HeaderView {
    issuer: PartyView,
    recipient: PartyView,
    number: String,
    date: String,
    signatory_name: String,
    signatory_position: String,
}

/// One row of the agency × category summary.
struct SummaryRow {
    agency: String,
    bin: String,
    categories: Vec<String>,
    billed: String,
    free: String,
    flagged: String,
    list: String,
}

/// One bill line as printed.
struct LineView {
    environment: String,
    namespace: String,
    category: String,
    resource: String,
    unit: String,
    quantity: String,
    rate: String,
    list_amount: String,
    amount: String,
    treatment: String,
}

/// One product's lines within a section.
struct ProductView {
    product: String,
    /// Decommissioned in the period: its last bill (R-LC-07).
    final_period: bool,
    lines: Vec<LineView>,
    list: String,
    amount: String,
}

/// One agency's lines within a section (to pay, or not billed).
struct AgencyView {
    heading: String,
    bin: String,
    contracts: String,
    products: Vec<ProductView>,
    list: String,
    amount: String,
}

/// One bar of a chart, with its label and printed value placed.
struct Bar {
    x: i64,
    y: i64,
    w: i64,
    h: i64,
    label: String,
    value: String,
    label_x: i64,
    label_y: i64,
    value_x: i64,
    value_y: i64,
}

/// An axis tick.
struct Tick {
    x1: i64,
    y1: i64,
    x2: i64,
    y2: i64,
    tx: i64,
    ty: i64,
    text: String,
}

/// An axis line.
struct AxisLine {
    x1: i64,
    y1: i64,
    x2: i64,
    y2: i64,
}

/// A bar chart: horizontal (label left, value right of the bar) or vertical (days).
struct Chart {
    caption: String,
    width: i64,
    height: i64,
    vertical: bool,
    axes: Vec<AxisLine>,
    ticks: Vec<Tick>,
    bars: Vec<Bar>,
    axis_title: String,
    axis_title_x: i64,
    axis_title_y: i64,
}

/// A row of a plain table.
struct Row {
    cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    lang: &'static str,
    l: &'static Labels,
    /// The running header's text as a CSS string literal (see [`css_string`]).
    running_header: String,
    header: Option<HeaderView>,
    doc_number: String,
    period: String,
    generated: String,
    corrects: Option<&'a str>,
    list: String,
    billed: String,
    free: String,
    flagged: String,
    billed_words: String,
    category_names: Vec<String>,
    summary: Vec<SummaryRow>,
    summary_total: SummaryRow,
    charts: Vec<Chart>,
    /// Lines to pay, then the others.
    line_sections: Vec<LineSection>,
    allocation: Vec<Row>,
    availability: Vec<Row>,
    coverage: String,
    environments: Vec<Row>,
    gaps: Vec<Row>,
    unbilled: Vec<Row>,
    notes: Vec<String>,
    residency: Option<Vec<Row>>,
    revisions: Vec<Row>,
    decommissioned: Vec<Row>,
    tariffs: Vec<Row>,
}

/// Text as a CSS string literal for `@page` margin boxes: `<style>` content is not
/// HTML-decoded, so HTML escaping does not apply there; every character that could
/// end the string, the rule or the element is written as a CSS escape instead.
fn css_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        if c.is_alphanumeric() && !c.is_ascii() || c.is_ascii_alphanumeric() || " .-–№".contains(c)
        {
            out.push(c);
        } else {
            out.push_str(&format!("\\{:x} ", u32::from(c)));
        }
    }
    out.push('"');
    out
}

/// A civil date and time (Astana) of an RFC 3339 instant: `04.01.2027 08:00`.
fn astana_time(rfc3339: &str) -> String {
    let Some(z) = super::document::astana(rfc3339) else {
        return rfc3339.to_string();
    };
    format!(
        "{:02}.{:02}.{:04} {:02}:{:02}",
        z.day(),
        z.month(),
        z.year(),
        z.hour(),
        z.minute()
    )
}

fn agency_name(lang: Lang, a: &AgencyReport) -> String {
    match &a.name {
        Some(n) => match lang {
            Lang::Kk => n.kk.clone(),
            Lang::Ru => n.ru.clone(),
        },
        None => a.agency.clone(),
    }
}

fn contracts(lang: Lang, l: &Labels, a: &AgencyReport) -> String {
    a.contracts
        .iter()
        .map(|c| match lang {
            // «2026 жылғы 01.11.2026 күнгі № X» reads badly; the date then the number.
            Lang::Kk => format!("{} {} № {}", date(&c.signed_on), l.contract_of, c.id),
            Lang::Ru => format!("№ {} {} {}", c.id, l.contract_of, date(&c.signed_on)),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn line_view(lang: Lang, env: &str, namespace: &str, ln: &LineReport, l: &Labels) -> LineView {
    let treatment = or_id(
        i18n::treatment(lang, ln.treatment.as_str()),
        ln.treatment.as_str(),
    );
    LineView {
        environment: or_id(i18n::environment(lang, env), env),
        namespace: namespace.to_string(),
        category: or_id(
            i18n::category(lang, ln.category.as_str()),
            ln.category.as_str(),
        ),
        resource: i18n::resource(lang, &ln.resource).unwrap_or_else(|| ln.resource.clone()),
        unit: or_id(i18n::unit(lang, &ln.unit), &ln.unit),
        quantity: number(&ln.quantity),
        rate: number(&ln.rate),
        list_amount: number(&ln.list_amount),
        amount: number(&ln.amount),
        treatment: match &ln.adjustment_of {
            Some(m) => format!("{treatment} ({} {m})", l.adjustment_of),
            None => treatment,
        },
    }
}

/// The agencies' lines that pass `keep`, with totals of what is shown.
fn sections(
    lang: Lang,
    l: &Labels,
    doc: &ReportDocument,
    keep: impl Fn(&LineReport) -> bool,
) -> Vec<AgencyView> {
    let mut out = Vec::new();
    for a in &doc.agencies {
        let (mut a_list, mut a_amount) = (0i128, 0i128);
        let mut products = Vec::new();
        for p in &a.products {
            let (mut p_list, mut p_amount) = (0i128, 0i128);
            let mut lines = Vec::new();
            for e in &p.environments {
                for ln in e.lines.iter().filter(|ln| keep(ln)) {
                    p_list += tiyn(&ln.list_amount);
                    p_amount += tiyn(&ln.amount);
                    lines.push(line_view(lang, &e.environment, &e.namespace, ln, l));
                }
            }
            if lines.is_empty() {
                continue;
            }
            a_list += p_list;
            a_amount += p_amount;
            products.push(ProductView {
                product: p.product.clone(),
                final_period: p.final_period,
                lines,
                list: number(&akp_rules::billing::rating::format_tiyn(p_list)),
                amount: number(&akp_rules::billing::rating::format_tiyn(p_amount)),
            });
        }
        if products.is_empty() {
            continue;
        }
        out.push(AgencyView {
            heading: agency_name(lang, a),
            bin: a.bin.clone().unwrap_or_default(),
            contracts: contracts(lang, l, a),
            products,
            list: number(&akp_rules::billing::rating::format_tiyn(a_list)),
            amount: number(&akp_rules::billing::rating::format_tiyn(a_amount)),
        });
    }
    out
}

/// The table rows of `items`, one per item.
fn rows<T>(items: &[T], cells: impl Fn(&T) -> Vec<String>) -> Vec<Row> {
    items.iter().map(|i| Row { cells: cells(i) }).collect()
}

fn summary_row(agency: String, bin: String, t: &Totals) -> SummaryRow {
    SummaryRow {
        agency,
        bin,
        categories: akp_rules::billing::rating::Category::ALL
            .iter()
            .map(|c| number(t.by_category.get(c.as_str()).map_or("0.00", String::as_str)))
            .collect(),
        billed: number(&t.billed),
        free: number(&t.free),
        flagged: number(&t.flagged),
        list: number(&t.list),
    }
}

/// A "nice" axis maximum ≥ `max` tiyn, in whole tenge: 1, 2 or 5 × 10^k.
fn nice_max(max_tiyn: i128) -> i128 {
    let tenge = (max_tiyn.max(1) + 99) / 100;
    let mut step = 1i128;
    loop {
        for m in [1, 2, 5] {
            if m * step >= tenge {
                return m * step * 100;
            }
        }
        step *= 10;
    }
}

fn axis(x1: i64, y1: i64, x2: i64, y2: i64) -> AxisLine {
    AxisLine { x1, y1, x2, y2 }
}

fn to_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Whole tenge of tiyn, grouped (axis labels).
fn tenge_label(tiyn: i128) -> String {
    number(&(tiyn / 100).to_string())
}

/// Horizontal bars: labels in a left column, bars scaled to a nice maximum, the value
/// printed after each bar, an x axis with five ticks.
fn hbar_chart(caption: &str, bars: &[(String, String)]) -> Chart {
    const LEFT: i64 = 230;
    const SPAN: i64 = 330;
    let top = 8;
    let max = nice_max(bars.iter().map(|(_, v)| tiyn(v)).max().unwrap_or(0));
    let base = top + 24 * i64::try_from(bars.len()).unwrap_or(0);
    let mut out = Vec::new();
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = top + 24 * i64::try_from(i).unwrap_or(0);
        let w = to_i64(tiyn(value).max(0) * i128::from(SPAN) / max);
        out.push(Bar {
            x: LEFT,
            y: y + 3,
            w,
            h: 16,
            label: label.clone(),
            value: money(value),
            label_x: LEFT - 6,
            label_y: y + 15,
            value_x: LEFT + w + 4,
            value_y: y + 15,
        });
    }
    let ticks = (0..=4)
        .map(|k| {
            let x = LEFT + SPAN * k / 4;
            Tick {
                x1: x,
                y1: base,
                x2: x,
                y2: base + 4,
                tx: x,
                ty: base + 15,
                text: tenge_label(max * i128::from(k) / 4),
            }
        })
        .collect();
    Chart {
        caption: caption.to_string(),
        width: LEFT + SPAN + 110,
        height: base + 34,
        vertical: false,
        axes: vec![
            axis(LEFT, top, LEFT, base),
            axis(LEFT, base, LEFT + SPAN, base),
        ],
        ticks,
        bars: out,
        axis_title: "₸".into(),
        axis_title_x: LEFT + SPAN + 12,
        axis_title_y: base + 15,
    }
}

/// Vertical bars per day: a y axis with five ticks, the day of month under each bar,
/// the value (whole tenge) printed above it.
fn day_chart(caption: &str, axis_title: &str, days: &[(String, String)]) -> Chart {
    const LEFT: i64 = 64;
    const TOP: i64 = 70;
    const SPAN: i64 = 150;
    let step = 19;
    let max = nice_max(days.iter().map(|(_, v)| tiyn(v)).max().unwrap_or(0));
    let base = TOP + SPAN;
    let mut bars = Vec::new();
    for (i, (d, value)) in days.iter().enumerate() {
        let x = LEFT + 4 + step * i64::try_from(i).unwrap_or(0);
        let h = to_i64(tiyn(value).max(0) * i128::from(SPAN) / max);
        bars.push(Bar {
            x,
            y: base - h,
            w: step - 5,
            h,
            label: d.rsplit('-').next().unwrap_or("").to_string(),
            value: tenge_label(tiyn(value)),
            label_x: x + (step - 5) / 2,
            label_y: base + 12,
            value_x: x + (step - 5) / 2 + 3,
            value_y: base - h - 3,
        });
    }
    let right = LEFT + 8 + step * i64::try_from(days.len()).unwrap_or(0);
    let ticks = (0..=4)
        .map(|k| {
            let y = base - SPAN * k / 4;
            Tick {
                x1: LEFT - 4,
                y1: y,
                x2: LEFT,
                y2: y,
                tx: LEFT - 6,
                ty: y + 3,
                text: tenge_label(max * i128::from(k) / 4),
            }
        })
        .collect();
    Chart {
        caption: caption.to_string(),
        width: right + 10,
        height: base + 32,
        vertical: true,
        axes: vec![
            axis(LEFT, TOP - 6, LEFT, base),
            axis(LEFT, base, right, base),
        ],
        ticks,
        bars,
        axis_title: axis_title.to_string(),
        axis_title_x: (LEFT + right) / 2,
        axis_title_y: base + 28,
    }
}

/// Renders the report as a self-contained HTML page in `lang`.
pub fn to_html(doc: &ReportDocument, lang: Lang) -> Result<Vec<u8>, super::ReportError> {
    let l = i18n::labels(lang);
    let pick = |kk: &str, ru: &str| match lang {
        Lang::Kk => kk.to_string(),
        Lang::Ru => ru.to_string(),
    };
    let header = doc.document.as_ref().map(|d| {
        let party = |p: &super::document::Party| PartyView {
            name: pick(&p.name.kk, &p.name.ru),
            bin: p.bin.clone(),
            address: pick(&p.address.kk, &p.address.ru),
        };
        HeaderView {
            issuer: party(&d.issuer),
            recipient: party(&d.recipient),
            number: d.number.clone(),
            date: date(&d.date),
            signatory_name: pick(&d.signatory.name.kk, &d.signatory.name.ru),
            signatory_position: pick(&d.signatory.position.kk, &d.signatory.position.ru),
        }
    });
    let doc_number = header
        .as_ref()
        .map(|h| h.number.clone())
        .unwrap_or_else(|| doc.name.clone());
    let period = format!("{}–{}", date(&doc.period_from), date(&doc.period_to));
    let category_names: Vec<String> = akp_rules::billing::rating::Category::ALL
        .iter()
        .map(|c| or_id(i18n::category(lang, c.as_str()), c.as_str()))
        .collect();
    let summary = doc
        .agencies
        .iter()
        .map(|a| {
            summary_row(
                agency_name(lang, a),
                a.bin.clone().unwrap_or_default(),
                &a.totals,
            )
        })
        .collect();
    let charts = vec![
        hbar_chart(
            l.by_category,
            &doc.totals
                .by_category
                .iter()
                .map(|(c, v)| (or_id(i18n::category(lang, c), c), v.clone()))
                .collect::<Vec<_>>(),
        ),
        hbar_chart(
            l.by_agency,
            &doc.agencies
                .iter()
                .map(|a| (agency_name(lang, a), a.totals.billed.clone()))
                .collect::<Vec<_>>(),
        ),
        day_chart(
            l.by_day,
            l.day_axis,
            &doc.usage_by_day
                .iter()
                .map(|d| (d.date.clone(), d.billed.clone()))
                .collect::<Vec<_>>(),
        ),
    ];
    let row = |cells: Vec<String>| Row { cells };
    let env_name = |e: &str| or_id(i18n::environment(lang, e), e);
    let allocation = rows(&doc.allocation, |a| {
        vec![
            a.product.clone(),
            env_name(&a.environment),
            i18n::resource(lang, &a.resource).unwrap_or_else(|| a.resource.clone()),
            or_id(i18n::unit(lang, &a.unit), &a.unit),
            number(&a.allocated),
            number(&a.used),
            number(&a.billed),
        ]
    });
    let availability = rows(&doc.availability, |a| {
        vec![
            a.product.clone(),
            a.namespace.clone(),
            a.hours.to_string(),
            percent(&a.availability),
            a.target
                .as_deref()
                .map(percent)
                .unwrap_or_else(|| "—".into()),
            match a.met {
                Some(true) => l.met_yes.to_string(),
                Some(false) => l.met_no.to_string(),
                None => "—".into(),
            },
        ]
    });
    let environments = rows(&doc.data_quality.environments, |e| {
        vec![
            e.namespace.clone(),
            e.hours.to_string(),
            percent(&e.coverage),
            e.gap_hours.to_string(),
        ]
    });
    let gaps = rows(&doc.data_quality.gaps, |g| {
        vec![
            g.namespace.clone(),
            i18n::ledger_resource(lang, &g.resource).unwrap_or_else(|| g.resource.clone()),
            astana_time(&g.from),
            astana_time(&g.to),
        ]
    });
    let unbilled = rows(&doc.data_quality.unbilled, |u| {
        vec![
            or_id(i18n::unbilled_reason(lang, &u.reason), &u.reason),
            i18n::ledger_resource(lang, &u.resource).unwrap_or_else(|| u.resource.clone()),
            or_id(i18n::unit(lang, &u.unit), &u.unit),
            number(&u.quantity),
        ]
    });
    let notes = doc
        .data_quality
        .notes
        .iter()
        .map(|n| i18n::note(lang, n).unwrap_or_else(|| n.clone()))
        .collect();
    let residency = doc.residency.as_ref().map(|res| {
        res.iter()
            .map(|r| {
                let countries: Vec<String> = r
                    .node_hours_by_country
                    .iter()
                    .map(|(c, h)| {
                        format!(
                            "{}: {}",
                            or_id(i18n::country(lang, c), c),
                            number(&h.to_string())
                        )
                    })
                    .collect();
                row(vec![
                    r.product.clone(),
                    r.sites.join(", "),
                    countries.join(", "),
                ])
            })
            .collect()
    });
    let (revisions, decommissioned) = lifecycle_rows(lang, l, &doc.lifecycle);
    let tariffs = rows(&doc.tariffs, |t| {
        vec![
            t.name.clone(),
            date(&t.effective_from),
            format!("{} {}", t.hours, l.hours),
        ]
    });
    let page = Page {
        lang: lang.code(),
        l,
        running_header: css_string(&format!("{} {} · {}", l.number, doc_number, period)),
        header,
        doc_number,
        period,
        generated: astana_time(&doc.generated_at),
        corrects: doc.corrects.as_deref(),
        list: money(&doc.totals.list),
        billed: money(&doc.totals.billed),
        free: money(&doc.totals.free),
        flagged: money(&doc.totals.flagged),
        billed_words: amount_in_words(&doc.totals.billed, lang).unwrap_or_default(),
        category_names,
        summary,
        summary_total: summary_row(l.total.to_string(), String::new(), &doc.totals),
        charts,
        line_sections: vec![
            LineSection {
                title: l.billed_lines,
                agencies: sections(lang, l, doc, |ln| {
                    ln.treatment == akp_rules::billing::rating::Treatment::Billed
                }),
            },
            LineSection {
                title: l.unbilled_lines,
                agencies: sections(lang, l, doc, |ln| {
                    ln.treatment != akp_rules::billing::rating::Treatment::Billed
                }),
            },
        ],
        allocation,
        availability,
        coverage: percent(&doc.data_quality.coverage),
        environments,
        gaps,
        unbilled,
        notes,
        residency,
        revisions,
        decommissioned,
        tariffs,
    };
    let mut out = page.render()?;
    out.push('\n');
    Ok(out.into_bytes())
}

/// A Kubernetes quantity in whole units (cores, GiB when `binary`), as a number of the
/// document's language; the quantity as written when unreadable.
fn amount_of(quantity: &str, binary: bool) -> String {
    let Ok(nanos) = akp_rules::quantity::parse_nanos(quantity) else {
        return quantity.to_string();
    };
    let mut units = Decimal::from_i128_with_scale(nanos, 9);
    if binary {
        units /= Decimal::from(1u64 << 30);
    }
    number(&units.round_dp(3).normalize().to_string())
}

/// The lifecycle section (R-LC-05, R-LC-07): each revision with what was requested,
/// and the products decommissioned in the period.
fn lifecycle_rows(
    lang: Lang,
    l: &Labels,
    events: &[super::lifecycle::ProductLifecycle],
) -> (Vec<Row>, Vec<Row>) {
    let mut revisions = Vec::new();
    let mut decommissioned = Vec::new();
    for e in events {
        for r in &e.revisions {
            let requested: Vec<String> = r
                .requested
                .iter()
                .map(|q| {
                    let mut parts = vec![
                        format!("{}: {}", l.cpu_cores, amount_of(&q.cpu, false)),
                        format!("{}: {}", l.memory_gib, amount_of(&q.memory, true)),
                        format!("{}: {}", l.storage_gib, amount_of(&q.storage, true)),
                    ];
                    parts.extend(q.software.iter().cloned());
                    format!(
                        "{} — {}",
                        or_id(i18n::environment(lang, &q.environment), &q.environment),
                        parts.join("; ")
                    )
                })
                .collect();
            revisions.push(Row {
                cells: vec![
                    e.product.clone(),
                    astana_time(&r.at),
                    or_id(i18n::stage(lang, &r.stage), &r.stage),
                    requested.join(" · "),
                ],
            });
        }
        if let Some(on) = &e.decommissioned_on {
            decommissioned.push(Row {
                cells: vec![e.product.clone(), date(on), l.final_period.to_string()],
            });
        }
    }
    (revisions, decommissioned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn css_strings_cannot_end_the_rule() {
        assert_eq!(css_string("ЭҮ-2026-10"), "\"ЭҮ-2026-10\"");
        let evil = css_string("a\"}</style><script>");
        assert!(
            !evil[1..evil.len() - 1].contains(['"', '<', '>', '}']),
            "{evil}"
        );
    }

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_max(0), 100);
        assert_eq!(nice_max(3_591_455), 5_000_000);
        assert_eq!(nice_max(150_000), 200_000);
        assert_eq!(astana_time("2027-01-04T03:00:00Z"), "04.01.2027 08:00");
    }
}
