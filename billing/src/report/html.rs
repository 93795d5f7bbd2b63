//! The HTML report for people, in Kazakh or Russian (R-BIL-02): the same content as the
//! JSON, with inline SVG bar charts (usage by day, by category, by agency). No
//! JavaScript and no external resources, so the file is self-contained, printable, and
//! its bytes depend only on the content.

use std::fmt::Write as _;

use rust_decimal::Decimal;

use super::ReportDocument;

/// The report's languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Kazakh.
    Kk,
    /// Russian.
    Ru,
}

impl Lang {
    /// Both, in artifact order.
    pub const ALL: [Lang; 2] = [Lang::Kk, Lang::Ru];

    /// BCP 47 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Kk => "kk",
            Lang::Ru => "ru",
        }
    }
}

struct Labels {
    title: &'static str,
    period: &'static str,
    generated: &'static str,
    corrects: &'static str,
    tariffs: &'static str,
    total: &'static str,
    by_day: &'static str,
    by_category: &'static str,
    by_agency: &'static str,
    agency: &'static str,
    product: &'static str,
    environment: &'static str,
    category: &'static str,
    resource: &'static str,
    unit: &'static str,
    quantity: &'static str,
    rate: &'static str,
    amount: &'static str,
    treatment: &'static str,
    allocation: &'static str,
    allocated: &'static str,
    used: &'static str,
    billed: &'static str,
    availability: &'static str,
    data_quality: &'static str,
    coverage: &'static str,
    residency: &'static str,
    sites: &'static str,
    node_hours: &'static str,
    free: &'static str,
    flagged: &'static str,
    notes: &'static str,
    rounding: &'static str,
    hours: &'static str,
}

fn labels(lang: Lang) -> Labels {
    match lang {
        Lang::Kk => Labels {
            title: "ЭҮ АКП ресурстарын тұтыну бойынша биллинг есебі",
            period: "Кезең",
            generated: "Қалыптастырылған уақыты",
            corrects: "Түзетілетін есеп",
            tariffs: "Қолданылған тарифтер",
            total: "Барлығы",
            by_day: "Күндер бойынша",
            by_category: "Санаттар бойынша",
            by_agency: "Мемлекеттік органдар бойынша",
            agency: "Мемлекеттік орган",
            product: "ПБӨ",
            environment: "Орта",
            category: "Санат",
            resource: "Ресурс",
            unit: "Өлшем бірлігі",
            quantity: "Саны",
            rate: "Тариф",
            amount: "Сомасы",
            treatment: "Есептеу",
            allocation: "Бөлінген, пайдаланылған және есепке алынған",
            allocated: "Бөлінген",
            used: "Пайдаланылған",
            billed: "Есепке алынған",
            availability: "Өнеркәсіптік орталардың қолжетімділігі",
            data_quality: "Деректер сапасы",
            coverage: "Қамту",
            residency: "Орналасу туралы мәлімдеме",
            sites: "Алаңдар",
            node_hours: "Түйін-сағаттар (ел бойынша)",
            free: "Тегін (өнеркәсіптік емес орта)",
            flagged: "Белгіленген, есепке алынбаған",
            notes: "Ескертпелер",
            rounding: "Дөңгелектеу",
            hours: "сағат",
        },
        Lang::Ru => Labels {
            title: "Отчёт о результатах биллинга потребления ресурсов ИКП ЭП",
            period: "Период",
            generated: "Время формирования",
            corrects: "Исправляет отчёт",
            tariffs: "Применённые тарифы",
            total: "Итого",
            by_day: "По дням",
            by_category: "По категориям",
            by_agency: "По государственным органам",
            agency: "Государственный орган",
            product: "ПСП",
            environment: "Среда",
            category: "Категория",
            resource: "Ресурс",
            unit: "Единица",
            quantity: "Количество",
            rate: "Тариф",
            amount: "Сумма",
            treatment: "Учёт",
            allocation: "Выделено, использовано и выставлено",
            allocated: "Выделено",
            used: "Использовано",
            billed: "Выставлено",
            availability: "Доступность промышленных сред",
            data_quality: "Качество данных",
            coverage: "Покрытие",
            residency: "Заявление о размещении",
            sites: "Площадки",
            node_hours: "Узло-часы (по странам)",
            free: "Бесплатно (непромышленная среда)",
            flagged: "Отмечено, не выставлено",
            notes: "Примечания",
            rounding: "Округление",
            hours: "ч",
        },
    }
}

fn category_name(lang: Lang, category: &str) -> &'static str {
    match (lang, category) {
        (Lang::Kk, "software") => "Бағдарламалық қамтамасыз ету",
        (Lang::Kk, "compute") => "Есептеу ресурстары",
        (Lang::Kk, "telecom") => "Телекоммуникация ресурстары",
        (Lang::Ru, "software") => "Программное обеспечение",
        (Lang::Ru, "compute") => "Вычислительные ресурсы",
        (Lang::Ru, "telecom") => "Телекоммуникационные ресурсы",
        _ => "",
    }
}

fn treatment_name(lang: Lang, t: &str) -> &'static str {
    match (lang, t) {
        (Lang::Kk, "billed") => "есепке алынды",
        (Lang::Kk, "free") => "тегін",
        (Lang::Kk, "flagged") => "белгіленді",
        (Lang::Kk, "unpriced") => "тарифі жоқ",
        (Lang::Ru, "billed") => "выставлено",
        (Lang::Ru, "free") => "бесплатно",
        (Lang::Ru, "flagged") => "отмечено",
        (Lang::Ru, "unpriced") => "нет тарифа",
        _ => "",
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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

/// A horizontal bar chart: one labelled bar per (label, amount).
fn hbar_chart(out: &mut String, title: &str, bars: &[(String, String)]) {
    let max = bars.iter().map(|(_, v)| tiyn(v)).max().unwrap_or(0).max(1);
    let height = 24 * bars.len() + 8;
    let _ = write!(
        out,
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"{height}\" role=\"img\">",
        escape(title)
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = 4 + 24 * i;
        let w = tiyn(value).max(0) * 400 / max;
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect x=\"220\" y=\"{y}\" width=\"{w}\" height=\"18\" fill=\"#2b6cb0\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>",
            y + 14,
            escape(label),
            226 + w,
            y + 14,
            escape(value)
        );
    }
    out.push_str("</svg></figure>\n");
}

/// A vertical bar chart of days.
fn day_chart(out: &mut String, title: &str, days: &[(String, String)]) {
    let max = days.iter().map(|(_, v)| tiyn(v)).max().unwrap_or(0).max(1);
    let width = 40 + 20 * days.len();
    let _ = write!(
        out,
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"200\" role=\"img\">",
        escape(title)
    );
    for (i, (date, value)) in days.iter().enumerate() {
        let h = tiyn(value).max(0) * 160 / max;
        let x = 20 + 20 * i;
        let day = date.rsplit('-').next().unwrap_or("");
        let _ = write!(
            out,
            "<rect x=\"{x}\" y=\"{}\" width=\"16\" height=\"{h}\" fill=\"#2f855a\"><title>{}: {}</title></rect><text x=\"{x}\" y=\"195\" font-size=\"9\">{}</text>",
            175 - h,
            escape(date),
            escape(value),
            escape(day)
        );
    }
    out.push_str("</svg></figure>\n");
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table><thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", escape(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

/// Renders the report as a self-contained HTML page in `lang`.
pub fn to_html(doc: &ReportDocument, lang: Lang) -> Vec<u8> {
    let l = labels(lang);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{} {}</title>\
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #999;padding:2px 6px}}td{{text-align:right}}td:first-child{{text-align:left}}</style></head><body>\n",
        lang.code(),
        escape(l.title),
        escape(&doc.period)
    );
    let _ = writeln!(out, "<h1>{}</h1>", escape(l.title));
    let _ = writeln!(
        out,
        "<p>{}: {} ({} — {}, {})<br>{}: {}</p>",
        l.period,
        escape(&doc.period),
        escape(&doc.period_start),
        escape(&doc.period_end),
        escape(&doc.time_zone),
        l.generated,
        escape(&doc.generated_at)
    );
    if let Some(c) = &doc.corrects {
        let _ = writeln!(out, "<p>{}: {}</p>", l.corrects, escape(c));
    }
    let tariffs: Vec<String> = doc
        .tariffs
        .iter()
        .map(|t| format!("{} ({}, {} {})", t.name, t.effective_from, t.hours, l.hours))
        .collect();
    let _ = writeln!(out, "<p>{}: {}</p>", l.tariffs, escape(&tariffs.join("; ")));
    let _ = writeln!(
        out,
        "<h2>{}: {} {}</h2>",
        l.total,
        escape(&doc.totals.billed),
        escape(&doc.currency)
    );
    let _ = writeln!(
        out,
        "<p>{}: {} {cur}; {}: {} {cur}</p>",
        l.free,
        escape(&doc.totals.free),
        l.flagged,
        escape(&doc.totals.flagged),
        cur = escape(&doc.currency)
    );
    let by_category: Vec<(String, String)> = doc
        .totals
        .by_category
        .iter()
        .map(|(c, v)| (category_name(lang, c).to_string(), v.clone()))
        .collect();
    hbar_chart(&mut out, l.by_category, &by_category);
    let by_agency: Vec<(String, String)> = doc
        .agencies
        .iter()
        .map(|a| (a.agency.clone(), a.totals.billed.clone()))
        .collect();
    hbar_chart(&mut out, l.by_agency, &by_agency);
    let days: Vec<(String, String)> = doc
        .usage_by_day
        .iter()
        .map(|d| (d.date.clone(), d.billed.clone()))
        .collect();
    day_chart(&mut out, l.by_day, &days);
    for a in &doc.agencies {
        let _ = writeln!(
            out,
            "<h2>{}: {} — {} {}</h2>",
            l.agency,
            escape(&a.agency),
            escape(&a.totals.billed),
            escape(&doc.currency)
        );
        for p in &a.products {
            let _ = writeln!(
                out,
                "<h3>{}: {} — {} {}</h3>",
                l.product,
                escape(&p.product),
                escape(&p.totals.billed),
                escape(&doc.currency)
            );
            let mut rows = Vec::new();
            for e in &p.environments {
                for ln in &e.lines {
                    rows.push(vec![
                        format!("{} ({})", e.environment, e.namespace),
                        category_name(lang, ln.category.as_str()).to_string(),
                        ln.resource.clone(),
                        ln.unit.clone(),
                        ln.quantity.clone(),
                        ln.rate.clone(),
                        ln.amount.clone(),
                        match &ln.adjustment_of {
                            Some(m) => {
                                format!("{} ({m})", treatment_name(lang, ln.treatment.as_str()))
                            }
                            None => treatment_name(lang, ln.treatment.as_str()).to_string(),
                        },
                    ]);
                }
            }
            table(
                &mut out,
                &[
                    l.environment,
                    l.category,
                    l.resource,
                    l.unit,
                    l.quantity,
                    l.rate,
                    l.amount,
                    l.treatment,
                ],
                &rows,
            );
        }
    }
    let _ = writeln!(out, "<h2>{}</h2>", l.allocation);
    let rows: Vec<Vec<String>> = doc
        .allocation
        .iter()
        .map(|a| {
            vec![
                format!("{}/{}/{}", a.agency, a.product, a.environment),
                a.resource.clone(),
                a.unit.clone(),
                a.allocated.clone(),
                a.used.clone(),
                a.billed.clone(),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            l.environment,
            l.resource,
            l.unit,
            l.allocated,
            l.used,
            l.billed,
        ],
        &rows,
    );
    let _ = writeln!(out, "<h2>{}</h2>", l.availability);
    let rows: Vec<Vec<String>> = doc
        .availability
        .iter()
        .map(|a| {
            vec![
                format!("{}/{}", a.agency, a.product),
                a.hours.to_string(),
                a.availability.clone(),
            ]
        })
        .collect();
    table(&mut out, &[l.product, l.hours, l.availability], &rows);
    let _ = writeln!(
        out,
        "<h2>{}</h2><p>{}: {}</p>",
        l.data_quality,
        l.coverage,
        escape(&doc.data_quality.coverage)
    );
    let rows: Vec<Vec<String>> = doc
        .data_quality
        .environments
        .iter()
        .map(|e| {
            vec![
                e.namespace.clone(),
                e.hours.to_string(),
                e.coverage.clone(),
                e.gap_hours.to_string(),
            ]
        })
        .collect();
    table(
        &mut out,
        &[l.environment, l.hours, l.coverage, "gap"],
        &rows,
    );
    if !doc.data_quality.notes.is_empty() {
        let _ = writeln!(out, "<h3>{}</h3><ul>", l.notes);
        for n in &doc.data_quality.notes {
            let _ = writeln!(out, "<li>{}</li>", escape(n));
        }
        out.push_str("</ul>\n");
    }
    if let Some(res) = &doc.residency {
        let _ = writeln!(out, "<h2>{}</h2>", l.residency);
        let rows: Vec<Vec<String>> = res
            .iter()
            .map(|r| {
                let countries: Vec<String> = r
                    .node_hours_by_country
                    .iter()
                    .map(|(c, h)| format!("{c}: {h}"))
                    .collect();
                vec![
                    format!("{}/{}", r.agency, r.product),
                    r.sites.join(", "),
                    countries.join(", "),
                ]
            })
            .collect();
        table(&mut out, &[l.product, l.sites, l.node_hours], &rows);
    }
    let _ = writeln!(out, "<p>{}: {}</p>", l.rounding, escape(&doc.rounding));
    out.push_str("</body></html>\n");
    out.into_bytes()
}
