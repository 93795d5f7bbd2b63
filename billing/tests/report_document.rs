//! The report as a document the authorized body files (R-BIL-02, issue 19): issuer,
//! recipient, number and date, Astana civil dates, agencies by name and BIN, the
//! agency × category summary, list amounts on every line, money and totals in words
//! per language, charts with printed values, A4 print rules, and no English left in
//! the Kazakh and Russian documents.

use std::collections::BTreeSet;

use akp_billing::report::html::to_html;
use akp_billing::report::{self, ReportDocument, UnbilledEntry};
use akp_crds::Agency;
use akp_rules::billing::period::Hour;
use akp_rules::billing::report::document::{self, AgencyInfo, DocumentConfig};
use akp_rules::billing::report::words::Lang;
use akp_rules::billing::report::words::{amount_in_words, money, number};

mod common;
use common::{example, example_tariffs as tariffs, row};

fn agencies() -> Vec<Agency> {
    serde_saphyr::from_multiple::<Agency>(&example("agencies.yaml")).expect("agencies")
}

fn config() -> DocumentConfig {
    DocumentConfig::load(
        format!(
            "{}/../examples/billing/report-document.yaml",
            env!("CARGO_MANIFEST_DIR")
        )
        .as_ref(),
    )
    .expect("example document settings")
}

/// August 2026 at the example tariffs and agencies: `mon` and `mz` in production,
/// `mf` testing within its free period (contract 2026-06-10), `mon` developing after
/// it (flagged), and `mcri`, which has no Agency object (no name, no contract: a
/// rating note).
fn august(agencies: &[Agency]) -> ReportDocument {
    let contracts = akp_billing::report::controller::contracts(agencies);
    let start = Hour::starting_at(1_785_524_400).expect("2026-07-31T19:00Z");
    let mut rows = Vec::new();
    let mut hourly = common::mon_hour(999_000);
    #[rustfmt::skip]
    hourly.extend([
        (("mz", "damumed", "production"), "storage",                          "gib_hour",      500_000_000),
        (("mf", "tax", "production"),     "software.instances/postgresql-16", "instance_hour", 1_000_000),
        (("mf", "tax", "testing"),        "cpu",                              "core_second",   1_800_000_000),
        (("mcri", "space", "trial"),      "memory",                           "gib_hour",      4_000_000),
    ]);
    for i in 0..106 {
        let h = start.plus(i * 7);
        for &(ns, resource, unit, quantity) in &hourly {
            rows.push(row(ns, resource, unit, h, quantity));
        }
    }
    let (rated, book) = common::rate(&tariffs(), &contracts, &rows, &[]);
    let mut meta = common::meta(
        "2026-08",
        "2026-08",
        ("2026-07-31T19:00:00Z", "2026-08-31T19:00:00Z"),
        "2026-09-02T03:00:00Z",
        "0.998656",
    );
    meta.data_quality.unbilled = vec![UnbilledEntry {
        reason: "uncatalogued-image".into(),
        resource: "cpu".into(),
        unit: "core_second".into(),
        quantity: "3600.000000".into(),
    }];
    let mut doc = report::build(&meta, &rated, &book);
    let named: Vec<AgencyInfo> = agencies.iter().map(AgencyInfo::of).collect();
    document::complete(&mut doc, &config(), &named);
    report::lifecycle::complete(&mut doc, &lifecycle_products());
    report::lifecycle::complete_targets(&mut doc, &lifecycle_products());
    doc
}

/// `tax` of mf revised its request on 2026-08-12 (Astana); `damumed` of mz was
/// decommissioned on 2026-08-31, late in the evening in Astana.
fn lifecycle_products() -> Vec<akp_crds::PlatformSoftwareProduct> {
    let product = |namespace: &str, name: &str, status: serde_json::Value| {
        let mut p = akp_rules::examples::product_json(namespace);
        p["metadata"]["name"] = serde_json::json!(name);
        p["status"] = status;
        serde_json::from_value(p).expect("product")
    };
    let mut licensed: akp_crds::PlatformSoftwareProduct = product(
        "agency-mon",
        "e-license",
        serde_json::json!({"agency": "mon"}),
    );
    licensed.spec.sla = Some(akp_crds::product::Sla {
        availability_percent: Some("99.95".into()),
        ..Default::default()
    });
    vec![
        licensed,
        product(
            "agency-mf",
            "tax",
            serde_json::json!({"agency": "mf", "requestHistory": [{
                "observedAt": "2026-08-12T06:30:00Z", "generation": 4, "stage": "production",
                "environments": {"production": {"cpu": "1500m", "memory": "6Gi", "storage": "50Gi",
                    "software": [{"item": "postgresql-16", "instances": 2}]}}
            }]}),
        ),
        product(
            "agency-mz",
            "damumed",
            serde_json::json!({"agency": "mz", "stageHistory": [
                {"stage": "production", "since": "2026-01-10T05:00:00Z", "until": "2026-08-31T18:00:00Z"},
                {"stage": "decommissioned", "since": "2026-08-31T18:00:00Z"}
            ]}),
        ),
    ]
}

/// What a reader sees: the text outside tags, `<style>` dropped, entities decoded.
fn visible_text(html: &str) -> String {
    let mut rest = html;
    let mut out = String::new();
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        if after.starts_with("<style") {
            let end = after.find("</style>").expect("closed style");
            rest = &after[end + "</style>".len()..];
            continue;
        }
        let close = after.find('>').expect("closed tag");
        out.push(' ');
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Runs of ASCII letters, digits and `._-/` that hold a letter: what could be an
/// English word (or an identifier).
fn ascii_tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "._-/".contains(c)))
        .map(|t| t.trim_matches(|c: char| ".-/".contains(c)))
        .filter(|t| t.bytes().any(|b| b.is_ascii_alphabetic()))
        .map(str::to_string)
        .collect()
}

/// The identifiers and codes a document may show as they are: the ids of agencies,
/// products, namespaces, tariffs, contracts, catalog items and sites, the document
/// number, and rule ids (R-…).
fn identifiers(doc: &ReportDocument) -> BTreeSet<String> {
    let mut ids: Vec<String> = Vec::new();
    for a in &doc.agencies {
        ids.push(a.agency.clone());
        ids.extend(a.contracts.iter().map(|c| c.id.clone()));
        for p in &a.products {
            ids.push(p.product.clone());
            for e in &p.environments {
                ids.push(e.namespace.clone());
                for l in &e.lines {
                    ids.push(l.tariff.clone());
                    if let Some(item) = l.resource.strip_prefix("software/") {
                        ids.push(item.to_string());
                    }
                }
            }
        }
    }
    ids.extend(doc.tariffs.iter().map(|t| t.name.clone()));
    ids.extend(
        doc.data_quality
            .environments
            .iter()
            .map(|e| e.namespace.clone()),
    );
    ids.extend(doc.availability.iter().map(|a| a.namespace.clone()));
    for r in doc.residency.iter().flatten() {
        ids.push(r.product.clone());
        ids.extend(r.sites.iter().cloned());
    }
    if let Some(d) = &doc.document {
        ids.push(d.number.clone());
    }
    for e in &doc.lifecycle {
        ids.push(e.product.clone());
        for r in &e.revisions {
            for q in &r.requested {
                ids.extend(
                    q.software
                        .iter()
                        .map(|s| s.split(' ').next().unwrap_or_default().to_owned()),
                );
            }
        }
    }
    ids.iter().flat_map(|i| ascii_tokens(i)).collect()
}

fn is_rule_id(t: &str) -> bool {
    let parts: Vec<&str> = t.split('-').collect();
    parts.len() == 3
        && parts[0] == "R"
        && parts[1].bytes().all(|b| b.is_ascii_uppercase())
        && parts[2].bytes().all(|b| b.is_ascii_digit())
}

/// The words of `html` that are neither Kazakh/Russian nor an identifier or code.
fn english_words(html: &str, doc: &ReportDocument) -> BTreeSet<String> {
    let allowed = identifiers(doc);
    ascii_tokens(&visible_text(html))
        .into_iter()
        .filter(|t| !allowed.contains(t) && !is_rule_id(t))
        .collect()
}

#[test]
fn r_bil_02_kazakh_and_russian_documents_have_no_english_word() {
    let doc = august(&agencies());
    assert!(
        !doc.data_quality.notes.is_empty(),
        "the fixture has a rating note to translate"
    );
    for lang in Lang::ALL {
        let html = String::from_utf8(to_html(&doc, lang).expect("html")).expect("utf-8");
        // To look at them (or print them): AKP_REPORT_HTML_DIR=<dir>.
        if let Ok(dir) = std::env::var("AKP_REPORT_HTML_DIR") {
            std::fs::write(format!("{dir}/report.{}.html", lang.code()), &html).expect("write");
        }
        let words = english_words(&html, &doc);
        assert!(
            words.is_empty(),
            "{} document: words neither translated nor identifiers: {words:?}",
            lang.code()
        );
    }
    // The check sees what a reader sees: an English word in the data is caught.
    let mut english = doc.clone();
    english.data_quality.notes.push("quota exceeded".into());
    let html = String::from_utf8(to_html(&english, Lang::Ru).expect("html")).expect("utf-8");
    assert_eq!(
        english_words(&html, &english),
        BTreeSet::from(["exceeded".to_string(), "quota".to_string()])
    );
}

#[test]
fn r_bil_02_the_document_names_its_parties_number_date_period_and_agencies() {
    let agencies = agencies();
    let doc = august(&agencies);
    let d = doc.document.clone().expect("document");
    assert_eq!(d.number, "ЭҮ-АКП-2026-08");
    assert_eq!(d.date, "2026-09-02");
    assert_eq!(
        (doc.period_from.as_str(), doc.period_to.as_str()),
        ("2026-08-01", "2026-08-31")
    );
    for lang in Lang::ALL {
        let html = String::from_utf8(to_html(&doc, lang).expect("html")).expect("utf-8");
        let text = visible_text(&html);
        let pick = |l: &document::Localized| match lang {
            Lang::Kk => l.kk.clone(),
            Lang::Ru => l.ru.clone(),
        };
        for p in [&d.issuer, &d.recipient] {
            assert!(
                text.contains(&pick(&p.name)),
                "{}: {}",
                lang.code(),
                pick(&p.name)
            );
            assert!(text.contains(&p.bin) && text.contains(&pick(&p.address)));
        }
        assert!(text.contains(&pick(&d.signatory.name)));
        assert!(text.contains(&pick(&d.signatory.position)));
        assert!(text.contains("ЭҮ-АКП-2026-08"));
        assert!(
            text.contains("01.08.2026–31.08.2026"),
            "period as civil dates"
        );
        assert!(text.contains("02.09.2026 08:00"), "generated, Astana time");
        assert!(!text.contains("2026-07-31T19:00:00Z") && !text.contains("UTC"));
        for a in agencies
            .iter()
            .filter(|a| a.metadata.name.as_deref() != Some("mcri"))
        {
            let name = match lang {
                Lang::Kk => &a.spec.display_name.kk,
                Lang::Ru => &a.spec.display_name.ru,
            };
            let billed = doc
                .agencies
                .iter()
                .any(|r| Some(&r.agency) == a.metadata.name.as_ref());
            if billed {
                assert!(text.contains(name.as_str()), "{}: {name}", lang.code());
                assert!(text.contains(&a.spec.bin));
                for c in &a.spec.contracts {
                    assert!(text.contains(&c.id), "contract {}", c.id);
                }
            }
        }
        // An agency without an Agency object is shown by its id.
        assert!(text.contains("mcri"));
    }
    // The JSON has them too.
    let mon = doc
        .agencies
        .iter()
        .find(|a| a.agency == "mon")
        .expect("mon");
    assert_eq!(mon.bin.as_deref(), Some("040340004434"));
    assert_eq!(mon.contracts[0].id, "Д-2026/17");
    assert_eq!(
        mon.name.as_ref().map(|n| n.ru.as_str()),
        Some("Министерство просвещения Республики Казахстан")
    );
}

fn tiyn(text: &str) -> i128 {
    let (int, frac) = text.split_once('.').expect("decimal");
    let sign = if int.starts_with('-') { -1 } else { 1 };
    let int: i128 = int.trim_start_matches('-').parse().expect("int");
    sign * (int * 100 + frac.parse::<i128>().expect("frac"))
}

#[test]
fn r_bil_02_every_line_shows_its_list_amount_and_totals_add_up() {
    let doc = august(&agencies());
    let t = &doc.totals;
    assert!(tiyn(&t.free) > 0 && tiyn(&t.flagged) > 0 && tiyn(&t.billed) > 0);
    assert_eq!(
        tiyn(&t.list),
        tiyn(&t.billed) + tiyn(&t.free) + tiyn(&t.flagged),
        "list = billed + free + flagged"
    );
    for a in &doc.agencies {
        assert_eq!(
            tiyn(&a.totals.list),
            tiyn(&a.totals.billed) + tiyn(&a.totals.free) + tiyn(&a.totals.flagged)
        );
    }
    for lang in Lang::ALL {
        let html = String::from_utf8(to_html(&doc, lang).expect("html")).expect("utf-8");
        let text = visible_text(&html);
        // Every line's list amount is printed, the free and flagged ones included.
        for a in &doc.agencies {
            for p in &a.products {
                for e in &p.environments {
                    for l in &e.lines {
                        assert!(
                            text.contains(&number(&l.list_amount)),
                            "{} {}: {}",
                            e.namespace,
                            l.resource,
                            l.list_amount
                        );
                    }
                }
            }
        }
        assert!(text.contains(&money(&t.billed)) && text.contains(&money(&t.flagged)));
        assert!(text.contains(&money(&t.free)) && text.contains(&money(&t.list)));
        let words = amount_in_words(&t.billed, lang).expect("words");
        assert!(text.contains(&words), "{words}");
        // Lines to pay come before the others.
        let l = match lang {
            Lang::Kk => (
                "Төлеуге қойылған позициялар",
                "Төлеуге қойылмаған позициялар",
            ),
            Lang::Ru => ("Позиции к оплате", "Позиции, не выставленные к оплате"),
        };
        let (billed_at, other_at) = (
            text.find(l.0).expect("billed"),
            text.find(l.1).expect("other"),
        );
        assert!(billed_at < other_at);
        // Percentages, not shares.
        assert!(text.contains("99,87\u{a0}%") && text.contains("99,90\u{a0}%"));
        assert!(!text.contains("0.998656") && !text.contains("0.999000"));
    }
}

#[test]
fn r_bil_02_charts_print_their_values_and_axes_and_pages_are_a4() {
    let doc = august(&agencies());
    let html = String::from_utf8(to_html(&doc, Lang::Ru).expect("html")).expect("utf-8");
    let svgs: Vec<&str> = html.split("<svg").skip(1).collect();
    assert_eq!(svgs.len(), 3, "by category, by agency, by day");
    for svg in &svgs {
        assert!(
            svg.matches("<line").count() >= 2 + 5,
            "two axes and five ticks"
        );
        assert!(
            !svg.contains("<title>"),
            "values are printed, not in tooltips"
        );
    }
    let days = visible_text(svgs[2]);
    for d in &doc.usage_by_day {
        let tenge = number(&(tiyn(&d.billed) / 100).to_string());
        assert!(days.contains(&tenge), "{}: {tenge}", d.date);
    }
    let by_category = visible_text(svgs[0]);
    for v in doc.totals.by_category.values() {
        assert!(by_category.contains(&money(v)), "{v}");
    }
    assert!(html.contains("size: A4"));
    assert!(html.contains("counter(page)"), "page numbers");
    assert!(html.contains("@top-center { content: \"Номер документа ЭҮ-АКП-2026-08"));
    assert!(html.contains("tr, figure") && html.contains("break-inside: avoid"));
    assert!(html.contains("thead { display: table-header-group; }"));
}

#[test]
fn r_bil_02_the_template_escapes_by_construction() {
    let mut agencies = agencies();
    agencies[0].spec.display_name.ru = "Мин <script>alert(1)</script> & «Ко»".into();
    let mut doc = august(&agencies);
    doc.document.as_mut().expect("document").number = "N\"}</style><b>".into();
    let html = String::from_utf8(to_html(&doc, Lang::Ru).expect("html")).expect("utf-8");
    if let Ok(dir) = std::env::var("AKP_REPORT_HTML_DIR") {
        std::fs::write(format!("{dir}/escaped.ru.html"), &html).expect("write");
    }
    assert!(!html.contains("<script") && !html.contains("N\"}"));
    assert!(html.contains("Мин &#60;script&#62;alert(1)&#60;/script&#62; &#38; «Ко»"));
    // In the running header (CSS) the number cannot end the rule or the element.
    let style = &html[..html.find("</style>").expect("style")];
    assert_eq!(style.matches("</style").count(), 0);
    assert!(
        style.contains("N\\22 \\7d \\3c \\2f style\\3e \\3c b\\3e "),
        "{style}"
    );
}

#[test]
fn r_bil_02_document_settings_are_refused_with_the_field_and_the_fix() {
    let mut c = config();
    c.issuer.bin = "12345".into();
    let e = c.check().expect_err("short BIN").to_string();
    assert!(
        e.contains("issuer.bin")
            && e.contains("\"12345\"")
            && e.contains("R-BIL-02")
            && e.contains("12-digit"),
        "{e}"
    );
    let mut c = config();
    c.recipient.name.kk = " ".into();
    let e = c.check().expect_err("no Kazakh name").to_string();
    assert!(e.contains("recipient.name.kk"), "{e}");
    assert!(config().check().is_ok());
}

/// R-LC-05, R-LC-07, R-LC-10: the month's revisions of requested resources reach the
/// authorized body in its report, in its language, and a product decommissioned in the
/// month is marked as billed for the last time.
#[test]
fn r_lc_05_r_lc_07_the_report_lists_revisions_and_marks_the_last_period() {
    let doc = august(&agencies());
    assert_eq!(doc.lifecycle.len(), 2, "{:?}", doc.lifecycle);
    // R-MON-01: the month's availability against the product's target.
    let targets: Vec<_> = doc
        .availability
        .iter()
        .map(|a| (a.product.as_str(), a.target.as_deref(), a.met))
        .collect();
    assert!(
        targets.contains(&("e-license", Some("0.999500"), Some(false))),
        "{targets:?}"
    );
    let damumed = doc
        .agencies
        .iter()
        .flat_map(|a| a.products.iter())
        .find(|p| p.product == "damumed")
        .expect("damumed billed");
    assert!(damumed.final_period);
    assert!(
        doc.agencies
            .iter()
            .flat_map(|a| a.products.iter())
            .filter(|p| p.product != "damumed")
            .all(|p| !p.final_period)
    );
    let json = String::from_utf8(report::to_json(&doc).expect("json")).expect("utf-8");
    assert!(
        json.contains("\"decommissionedOn\": \"2026-08-31\""),
        "{json}"
    );
    assert!(json.contains("\"finalPeriod\": true"), "{json}");
    let ru = String::from_utf8(to_html(&doc, Lang::Ru).expect("html")).expect("utf-8");
    let text = visible_text(&ru);
    for part in [
        "Пересмотры запрошенных ресурсов (для уполномоченного органа)",
        "12.08.2026 11:30",
        "промышленная эксплуатация — ЦП, ядер: 1,5; память, ГиБ: 6; диск, ГиБ: 50; postgresql-16 × 2",
        "damumed (этот период для продукта последний расчётный)",
        "31.08.2026",
        "Целевой уровень",
        "99,95\u{a0}%",
    ] {
        assert!(
            text.contains(part),
            "{part} missing from the Russian document"
        );
    }
    let kk =
        visible_text(&String::from_utf8(to_html(&doc, Lang::Kk).expect("html")).expect("utf-8"));
    assert!(
        kk.contains("Пайдаланудан шығарылған өнімдер"),
        "Kazakh section missing"
    );
}
