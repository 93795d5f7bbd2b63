//! Numbers as a Kazakh or Russian reader expects them on a document (issue 19): money
//! grouped by thousands with a decimal comma and the tenge sign (`35 914,55 ₸`),
//! percentages (`99,90 %`), civil dates (`01.10.2026`), and the total in words
//! («Тридцать пять тысяч девятьсот четырнадцать тенге 55 тиын»). Pure functions of
//! decimal strings: the JSON keeps the machine form (`35914.55`), the documents these.

use rust_decimal::Decimal;

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

/// No-break space: between digit groups and before a sign, so that neither is wrapped
/// away from its number (both languages group by thousands with a space).
const NBSP: char = '\u{a0}';

/// The tenge sign (U+20B8), the National Bank's symbol of the currency since 2007.
pub const TENGE_SIGN: char = '₸';

/// `digits` (ASCII, no sign) grouped by three from the right with no-break spaces.
fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(NBSP);
        }
        out.push(c);
    }
    out
}

/// A decimal string (`-1234.5600`) grouped with a decimal comma (`−1 234,5600`), its
/// decimals kept as written: the document shows exactly the JSON's digits. Text that
/// is not a decimal is returned as is.
pub fn number(text: &str) -> String {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return text.to_string();
    }
    let mut out = String::new();
    if negative {
        out.push('−');
    }
    out.push_str(&group(int));
    if !frac.is_empty() {
        out.push(',');
        out.push_str(frac);
    }
    out
}

/// Money: `35914.55` → `35 914,55 ₸` (the same in Kazakh and Russian).
pub fn money(text: &str) -> String {
    format!("{}{NBSP}{TENGE_SIGN}", number(text))
}

/// A share 0..1 with 6 decimals as a percentage with 2 decimals: `0.999000` →
/// `99,90 %` (rounded half away from zero). Unreadable text is returned as is.
pub fn percent(share: &str) -> String {
    match Decimal::from_str_exact(share) {
        Ok(d) => {
            let p = (d * Decimal::ONE_HUNDRED)
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            format!("{}{NBSP}%", number(&format!("{p:.2}")))
        }
        Err(_) => share.to_string(),
    }
}

/// An ISO civil date (`2026-10-01`) as `01.10.2026`, the order both languages use on
/// documents.
pub fn date(iso: &str) -> String {
    let mut parts = iso.splitn(3, '-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(y), Some(m), Some(d)) => format!("{d}.{m}.{y}"),
        _ => iso.to_string(),
    }
}

const RU_UNITS: [&str; 10] = [
    "",
    "один",
    "два",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
];
const RU_TEENS: [&str; 10] = [
    "десять",
    "одиннадцать",
    "двенадцать",
    "тринадцать",
    "четырнадцать",
    "пятнадцать",
    "шестнадцать",
    "семнадцать",
    "восемнадцать",
    "девятнадцать",
];
const RU_TENS: [&str; 10] = [
    "",
    "",
    "двадцать",
    "тридцать",
    "сорок",
    "пятьдесят",
    "шестьдесят",
    "семьдесят",
    "восемьдесят",
    "девяносто",
];
const RU_HUNDREDS: [&str; 10] = [
    "",
    "сто",
    "двести",
    "триста",
    "четыреста",
    "пятьсот",
    "шестьсот",
    "семьсот",
    "восемьсот",
    "девятьсот",
];
/// Thousand and up: (one, few, many) forms and whether the noun is feminine.
const RU_SCALES: [([&str; 3], bool); 5] = [
    (["", "", ""], false),
    (["тысяча", "тысячи", "тысяч"], true),
    (["миллион", "миллиона", "миллионов"], false),
    (["миллиард", "миллиарда", "миллиардов"], false),
    (["триллион", "триллиона", "триллионов"], false),
];

const KK_UNITS: [&str; 10] = [
    "",
    "бір",
    "екі",
    "үш",
    "төрт",
    "бес",
    "алты",
    "жеті",
    "сегіз",
    "тоғыз",
];
const KK_TENS: [&str; 10] = [
    "",
    "он",
    "жиырма",
    "отыз",
    "қырық",
    "елу",
    "алпыс",
    "жетпіс",
    "сексен",
    "тоқсан",
];
const KK_SCALES: [&str; 5] = ["", "мың", "миллион", "миллиард", "триллион"];

/// Russian plural form index of `n`: 0 one (21 тысяча), 1 few (22 тысячи), 2 many.
fn ru_form(n: u64) -> usize {
    match (n % 10, n % 100) {
        (_, 11..=14) => 2,
        (1, _) => 0,
        (2..=4, _) => 1,
        _ => 2,
    }
}

fn ru_triad(n: u64, feminine: bool, out: &mut Vec<&'static str>) {
    let (h, t, u) = (
        (n / 100) as usize,
        (n / 10 % 10) as usize,
        (n % 10) as usize,
    );
    out.push(RU_HUNDREDS[h]);
    if t == 1 {
        out.push(RU_TEENS[u]);
    } else {
        out.push(RU_TENS[t]);
        // Thousands are feminine: одна тысяча, две тысячи.
        out.push(match (feminine, u) {
            (true, 1) => "одна",
            (true, 2) => "две",
            _ => RU_UNITS[u],
        });
    }
}

fn kk_triad(n: u64, out: &mut Vec<&'static str>) {
    let (h, t, u) = (
        (n / 100) as usize,
        (n / 10 % 10) as usize,
        (n % 10) as usize,
    );
    if h > 0 {
        if h > 1 {
            out.push(KK_UNITS[h]);
        }
        out.push("жүз");
    }
    out.push(KK_TENS[t]);
    out.push(KK_UNITS[u]);
}

/// A whole number in words, lowercase. Numbers from a quadrillion up are given in
/// digits (no bill of the platform comes near).
pub fn integer_words(n: u64, lang: Lang) -> String {
    if n == 0 {
        return match lang {
            Lang::Kk => "нөл",
            Lang::Ru => "ноль",
        }
        .to_string();
    }
    if n >= 1_000_000_000_000_000 {
        return group(&n.to_string());
    }
    let mut triads = Vec::new();
    let mut rest = n;
    while rest > 0 {
        triads.push(rest % 1000);
        rest /= 1000;
    }
    let mut words: Vec<&'static str> = Vec::new();
    for (scale, &t) in triads.iter().enumerate().rev() {
        if t == 0 {
            continue;
        }
        match lang {
            Lang::Ru => {
                let (forms, feminine) = RU_SCALES[scale];
                ru_triad(t, feminine, &mut words);
                words.push(forms[ru_form(t)]);
            }
            Lang::Kk => {
                kk_triad(t, &mut words);
                words.push(KK_SCALES[scale]);
            }
        }
    }
    words
        .into_iter()
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// An amount in words as documents write it: the tenge in words, the tiyn in digits,
/// capitalized: `35914.55` → «Тридцать пять тысяч девятьсот четырнадцать тенге 55
/// тиын» / «Отыз бес мың тоғыз жүз он төрт теңге 55 тиын». `None` for text that is not
/// an amount with 2 decimals.
pub fn amount_in_words(text: &str, lang: Lang) -> Option<String> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = body.split_once('.')?;
    if frac.len() != 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let tenge: u64 = int.parse().ok()?;
    let (minus, currency, tiyn) = match lang {
        Lang::Kk => ("минус", "теңге", "тиын"),
        Lang::Ru => ("минус", "тенге", "тиын"),
    };
    let mut out = String::new();
    if negative {
        out.push_str(minus);
        out.push(' ');
    }
    out.push_str(&integer_words(tenge, lang));
    out.push_str(&format!(" {currency} {frac} {tiyn}"));
    let mut chars = out.chars();
    Some(match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_grouped_with_a_decimal_comma_and_the_tenge_sign() {
        assert_eq!(money("35914.55"), "35\u{a0}914,55\u{a0}₸");
        assert_eq!(money("0.00"), "0,00\u{a0}₸");
        assert_eq!(money("-1234567.10"), "−1\u{a0}234\u{a0}567,10\u{a0}₸");
        assert_eq!(number("744.000000"), "744,000000");
        assert_eq!(percent("0.999000"), "99,90\u{a0}%");
        assert_eq!(percent("1.000000"), "100,00\u{a0}%");
        assert_eq!(percent("0.123456"), "12,35\u{a0}%");
        assert_eq!(date("2026-10-01"), "01.10.2026");
    }

    #[test]
    fn russian_words_agree_in_gender_and_number() {
        for (n, words) in [
            (35_914, "тридцать пять тысяч девятьсот четырнадцать"),
            (1_001, "одна тысяча один"),
            (2_000, "две тысячи"),
            (11_000, "одиннадцать тысяч"),
            (21_000, "двадцать одна тысяча"),
            (1_002_003, "один миллион две тысячи три"),
            (512_000_000, "пятьсот двенадцать миллионов"),
            (0, "ноль"),
        ] {
            assert_eq!(integer_words(n, Lang::Ru), words, "{n}");
        }
        for (amount, words) in [
            (
                "35914.55",
                Some("Тридцать пять тысяч девятьсот четырнадцать тенге 55 тиын"),
            ),
            ("-5.00", Some("Минус пять тенге 00 тиын")),
            ("5.5", None),
        ] {
            assert_eq!(
                amount_in_words(amount, Lang::Ru).as_deref(),
                words,
                "{amount}"
            );
        }
    }

    #[test]
    fn kazakh_words() {
        for (n, words) in [
            (35_914, "отыз бес мың тоғыз жүз он төрт"),
            (100, "жүз"),
            (1_000, "бір мың"),
            (2_300_017, "екі миллион үш жүз мың он жеті"),
            (0, "нөл"),
        ] {
            assert_eq!(integer_words(n, Lang::Kk), words, "{n}");
        }
        assert_eq!(
            amount_in_words("80203.52", Lang::Kk).as_deref(),
            Some("Сексен мың екі жүз үш теңге 52 тиын")
        );
    }
}
