//! Every word of the Kazakh and Russian documents (issue 19): labels, and the names of
//! categories, treatments, environments, resources, units and reasons. A term without
//! a translation is shown as its identifier, which the ASCII-word test of
//! `billing/tests/report_document.rs` refuses: a new resource or unit needs its words
//! here.

use akp_rules::billing::report::words::Lang;

/// The labels of a document.
pub struct Labels {
    pub title: &'static str,
    pub issuer: &'static str,
    pub recipient: &'static str,
    pub bin: &'static str,
    pub address: &'static str,
    pub number: &'static str,
    pub date: &'static str,
    pub period: &'static str,
    pub generated: &'static str,
    pub astana_time: &'static str,
    pub corrects: &'static str,
    pub totals: &'static str,
    pub list: &'static str,
    pub billed: &'static str,
    pub free: &'static str,
    pub flagged: &'static str,
    pub free_short: &'static str,
    pub flagged_short: &'static str,
    pub in_words: &'static str,
    pub check: &'static str,
    pub summary: &'static str,
    pub agency: &'static str,
    pub total: &'static str,
    pub contracts: &'static str,
    pub contract_of: &'static str,
    pub by_category: &'static str,
    pub by_agency: &'static str,
    pub by_day: &'static str,
    pub day_axis: &'static str,
    pub billed_lines: &'static str,
    pub unbilled_lines: &'static str,
    pub product: &'static str,
    pub environment: &'static str,
    pub category: &'static str,
    pub resource: &'static str,
    pub unit: &'static str,
    pub quantity: &'static str,
    pub rate: &'static str,
    pub list_amount: &'static str,
    pub amount: &'static str,
    pub treatment: &'static str,
    pub adjustment_of: &'static str,
    pub subtotal: &'static str,
    pub allocation: &'static str,
    pub allocated: &'static str,
    pub used: &'static str,
    pub billed_quantity: &'static str,
    pub availability: &'static str,
    pub hours_measured: &'static str,
    pub data_quality: &'static str,
    pub coverage: &'static str,
    pub hours_existed: &'static str,
    pub gap_hours: &'static str,
    pub gaps: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub unbilled: &'static str,
    pub reason: &'static str,
    pub notes: &'static str,
    pub residency: &'static str,
    pub lifecycle: &'static str,
    pub availability_target: &'static str,
    pub target_met: &'static str,
    pub met_yes: &'static str,
    pub met_no: &'static str,
    pub revisions: &'static str,
    pub recorded_at: &'static str,
    pub stage: &'static str,
    pub requested: &'static str,
    pub decommissioned: &'static str,
    pub decommissioned_on: &'static str,
    pub final_period: &'static str,
    pub cpu_cores: &'static str,
    pub memory_gib: &'static str,
    pub storage_gib: &'static str,
    pub sites: &'static str,
    pub node_hours: &'static str,
    pub tariffs: &'static str,
    pub effective_from: &'static str,
    pub hours: &'static str,
    pub rounding: &'static str,
    pub rounding_text: &'static str,
    pub signature: &'static str,
    pub signature_text: &'static str,
    pub signatory: &'static str,
    pub page: &'static str,
    pub none: &'static str,
    pub namespace: &'static str,
}

const KK: Labels = Labels {
    title: "«Электрондық үкіметтің» ақпараттық-коммуникациялық платформасы ресурстарын тұтыну туралы есеп",
    issuer: "Орындаушы (платформа операторы)",
    recipient: "Алушы (уәкілетті орган)",
    bin: "БСН",
    address: "Мекенжайы",
    number: "Құжат нөмірі",
    date: "Құжат күні",
    period: "Есепті кезең",
    generated: "Қалыптастырылды",
    astana_time: "Астана уақыты",
    corrects: "Түзетілетін есеп",
    totals: "Қорытынды",
    list: "Тариф бойынша құны (барлық тұтыну)",
    billed: "Төлеуге (есепке қойылды)",
    free: "Тегін (жеңілдік кезеңіндегі өнеркәсіптік емес орталар)",
    flagged: "Белгіленді, есепке қойылмады (жеңілдік кезеңінен кейінгі өнеркәсіптік емес орталар)",
    free_short: "Тегін, ₸",
    flagged_short: "Белгіленген, ₸",
    in_words: "Төлеуге жататын сома жазбаша",
    check: "Тексеру: төлеуге + тегін + белгіленген = тариф бойынша құны",
    summary: "Мемлекеттік органдар мен санаттар бойынша жиынтық (төлеуге)",
    agency: "Мемлекеттік орган",
    total: "Барлығы",
    contracts: "Шарттар",
    contract_of: "күнгі",
    by_category: "Санаттар бойынша төлеуге, ₸",
    by_agency: "Мемлекеттік органдар бойынша төлеуге, ₸",
    by_day: "Күндер бойынша төлеуге (Астана уақыты), ₸",
    day_axis: "Айдың күні",
    billed_lines: "Төлеуге қойылған позициялар",
    unbilled_lines: "Төлеуге қойылмаған позициялар (тегін, белгіленген, тарифі жоқ)",
    product: "Платформалық бағдарламалық өнім",
    environment: "Орта",
    category: "Санат",
    resource: "Ресурс",
    unit: "Өлшем бірлігі",
    quantity: "Саны",
    rate: "Бірлік тарифі, ₸",
    list_amount: "Тариф бойынша құны, ₸",
    amount: "Төлеуге, ₸",
    treatment: "Есепке алу",
    adjustment_of: "түзету, кезең",
    subtotal: "Жиыны",
    allocation: "Бөлінген, пайдаланылған және есепке алынған есептеу ресурстары",
    allocated: "Бөлінген",
    used: "Пайдаланылған",
    billed_quantity: "Есепке алынған",
    availability: "Өнеркәсіптік орталардың қолжетімділігі",
    hours_measured: "Өлшенген сағаттар",
    data_quality: "Деректер сапасы",
    coverage: "Деректермен қамту",
    hours_existed: "Орта болған сағаттар",
    gap_hours: "Деректері толық емес сағаттар",
    gaps: "Деректердегі олқылықтар",
    from: "Басы",
    to: "Соңы",
    unbilled: "Есепке алынбаған тұтыну",
    reason: "Себебі",
    notes: "Тарификация ескертпелері",
    residency: "Орналасу туралы мәлімдеме",
    lifecycle: "Өнімдердің өмірлік циклі",
    availability_target: "Мақсатты деңгей",
    target_met: "Орындалды",
    met_yes: "иә",
    met_no: "жоқ",
    revisions: "Сұралған ресурстарды қайта қарау (уәкілетті органға)",
    recorded_at: "Тіркелген уақыты",
    stage: "Кезең",
    requested: "Сұралған ресурстар",
    decommissioned: "Пайдаланудан шығарылған өнімдер",
    decommissioned_on: "Пайдаланудан шығарылған күні",
    final_period: "осы кезең өнім үшін соңғы есептік кезең",
    cpu_cores: "ЦП, ядро",
    memory_gib: "жад, ГиБ",
    storage_gib: "диск, ГиБ",
    sites: "Алаңдар",
    node_hours: "Елдер бойынша түйін-сағаттар",
    tariffs: "Қолданылған тарифтер",
    effective_from: "күшіне енген күні",
    hours: "сағат",
    rounding: "Дөңгелектеу",
    rounding_text: "Әр позиция тиынға дейін (0,01 ₸) дөңгелектенеді, жартысы нөлден алысқа қарай; әр жиын дөңгелектенген позициялардың қосындысы.",
    signature: "Қолтаңба",
    signature_text: "Құжатқа электрондық цифрлық қолтаңба (ЭЦҚ) қойылған. Қолтаңба есеп пакетіне жеке файл ретінде қоса беріледі және пакеттің барлық файлдарын қамтиды.",
    signatory: "Қол қойған",
    page: "Бет",
    none: "жоқ",
    namespace: "аттар кеңістігі",
};

const RU: Labels = Labels {
    title: "Отчёт о потреблении ресурсов информационно-коммуникационной платформы «электронного правительства»",
    issuer: "Исполнитель (оператор платформы)",
    recipient: "Получатель (уполномоченный орган)",
    bin: "БИН",
    address: "Адрес",
    number: "Номер документа",
    date: "Дата документа",
    period: "Отчётный период",
    generated: "Сформирован",
    astana_time: "время Астаны",
    corrects: "Исправляет отчёт",
    totals: "Итоги",
    list: "Стоимость по тарифу (всё потребление)",
    billed: "К оплате (выставлено)",
    free: "Бесплатно (непромышленные среды в льготный период)",
    flagged: "Отмечено, не выставлено (непромышленные среды после льготного периода)",
    free_short: "Бесплатно, ₸",
    flagged_short: "Отмечено, ₸",
    in_words: "Сумма к оплате прописью",
    check: "Проверка: к оплате + бесплатно + отмечено = стоимость по тарифу",
    summary: "Сводка по государственным органам и категориям (к оплате)",
    agency: "Государственный орган",
    total: "Итого",
    contracts: "Договоры",
    contract_of: "от",
    by_category: "К оплате по категориям, ₸",
    by_agency: "К оплате по государственным органам, ₸",
    by_day: "К оплате по дням (время Астаны), ₸",
    day_axis: "День месяца",
    billed_lines: "Позиции к оплате",
    unbilled_lines: "Позиции, не выставленные к оплате (бесплатно, отмечено, без тарифа)",
    product: "Платформенный программный продукт",
    environment: "Среда",
    category: "Категория",
    resource: "Ресурс",
    unit: "Единица измерения",
    quantity: "Количество",
    rate: "Тариф за единицу, ₸",
    list_amount: "Стоимость по тарифу, ₸",
    amount: "К оплате, ₸",
    treatment: "Учёт",
    adjustment_of: "корректировка за период",
    subtotal: "Всего",
    allocation: "Выделенные, использованные и учтённые вычислительные ресурсы",
    allocated: "Выделено",
    used: "Использовано",
    billed_quantity: "Учтено",
    availability: "Доступность промышленных сред",
    hours_measured: "Часов измерено",
    data_quality: "Качество данных",
    coverage: "Покрытие данными",
    hours_existed: "Часов существования среды",
    gap_hours: "Часов с неполными данными",
    gaps: "Пропуски данных",
    from: "С",
    to: "По",
    unbilled: "Потребление вне учёта",
    reason: "Причина",
    notes: "Замечания тарификации",
    residency: "Заявление о размещении",
    lifecycle: "Жизненный цикл продуктов",
    availability_target: "Целевой уровень",
    target_met: "Выполнен",
    met_yes: "да",
    met_no: "нет",
    revisions: "Пересмотры запрошенных ресурсов (для уполномоченного органа)",
    recorded_at: "Время записи",
    stage: "Этап",
    requested: "Запрошенные ресурсы",
    decommissioned: "Выведенные из эксплуатации продукты",
    decommissioned_on: "Дата вывода из эксплуатации",
    final_period: "этот период для продукта последний расчётный",
    cpu_cores: "ЦП, ядер",
    memory_gib: "память, ГиБ",
    storage_gib: "диск, ГиБ",
    sites: "Площадки",
    node_hours: "Узло-часы по странам",
    tariffs: "Применённые тарифы",
    effective_from: "действует с",
    hours: "ч",
    rounding: "Округление",
    rounding_text: "Каждая позиция округляется до тиына (0,01 ₸), половина — от нуля; каждый итог — сумма округлённых позиций.",
    signature: "Подпись",
    signature_text: "Документ подписан электронной цифровой подписью (ЭЦП). Подпись прилагается к пакету отчёта отдельным файлом и охватывает все файлы пакета.",
    signatory: "Подписал",
    page: "Стр.",
    none: "нет",
    namespace: "пространство имён",
};

/// The labels in `lang`.
pub fn labels(lang: Lang) -> &'static Labels {
    match lang {
        Lang::Kk => &KK,
        Lang::Ru => &RU,
    }
}

/// Picks the Kazakh or Russian of a pair.
fn pick(lang: Lang, kk: &'static str, ru: &'static str) -> &'static str {
    match lang {
        Lang::Kk => kk,
        Lang::Ru => ru,
    }
}

/// An R-BIL-03 category.
pub fn category(lang: Lang, category: &str) -> Option<&'static str> {
    Some(match category {
        "software" => pick(
            lang,
            "Бағдарламалық қамтамасыз ету",
            "Программное обеспечение",
        ),
        "compute" => pick(lang, "Есептеу ресурстары", "Вычислительные ресурсы"),
        "telecom" => pick(
            lang,
            "Телекоммуникация ресурстары",
            "Телекоммуникационные ресурсы",
        ),
        _ => return None,
    })
}

/// A line's treatment.
pub fn treatment(lang: Lang, t: &str) -> Option<&'static str> {
    Some(match t {
        "billed" => pick(lang, "төлеуге", "к оплате"),
        "free" => pick(lang, "тегін", "бесплатно"),
        "flagged" => pick(lang, "белгіленді", "отмечено"),
        "unpriced" => pick(lang, "тарифі жоқ", "нет тарифа"),
        _ => return None,
    })
}

/// An environment (R-ENV-01 stages).
pub fn environment(lang: Lang, e: &str) -> Option<&'static str> {
    Some(match e {
        "development" => pick(lang, "әзірлеу", "разработка"),
        "testing" => pick(lang, "тестілеу", "тестирование"),
        "trial" => pick(lang, "тәжірибелік пайдалану", "опытная эксплуатация"),
        "production" => pick(lang, "өнеркәсіптік пайдалану", "промышленная эксплуатация"),
        _ => return None,
    })
}

/// A tariff resource (`cpu`, `network.gateway`, `software/<item>`, …). The catalog
/// item's id is kept: it is the code under which the catalog lists it.
pub fn resource(lang: Lang, r: &str) -> Option<String> {
    if let Some(item) = r.strip_prefix("software/") {
        return Some(match lang {
            Lang::Kk => format!("«{item}» каталог позициясы"),
            Lang::Ru => format!("позиция каталога «{item}»"),
        });
    }
    Some(
        match r {
            "cpu" => pick(
                lang,
                "процессор (есептеу ядролары)",
                "процессор (вычислительные ядра)",
            ),
            "memory" => pick(lang, "жедел жады", "оперативная память"),
            "storage" => pick(lang, "деректер қоймасы", "хранилище данных"),
            "network.internet" => pick(lang, "интернет-трафик", "интернет-трафик"),
            "network.gateway" => pick(lang, "шлюз арқылы трафик", "трафик через шлюз"),
            "network.internal" => pick(lang, "ішкі трафик", "внутренний трафик"),
            _ => return None,
        }
        .to_string(),
    )
}

/// A ledger resource (`cpu`, `telecom.gateway`, `software.instances/<item>`, …), by
/// the tariff resource it is billed as.
pub fn ledger_resource(lang: Lang, r: &str) -> Option<String> {
    match akp_rules::billing::rating::map_resource(r) {
        akp_rules::billing::rating::Mapped::Billable { resource: t, .. } => resource(lang, &t),
        _ => None,
    }
}

/// A tariff or ledger unit.
pub fn unit(lang: Lang, u: &str) -> Option<&'static str> {
    Some(match u {
        "core-hour" | "core_hour" => pick(lang, "ядро-сағат", "ядро-час"),
        "core_second" => pick(lang, "ядро-секунд", "ядро-секунда"),
        "GiB-hour" | "gib_hour" => pick(lang, "ГиБ-сағат", "ГиБ-час"),
        "GiB" => pick(lang, "ГиБ", "ГиБ"),
        "gigabyte" => pick(lang, "ГБ", "ГБ"),
        "instance-hour" | "instance_hour" => pick(lang, "дана-сағат", "экземпляр-час"),
        _ => return None,
    })
}

/// A product's stage (R-LC-01).
pub fn stage(lang: Lang, s: &str) -> Option<&'static str> {
    Some(match s {
        "development" => pick(lang, "әзірлеу", "разработка"),
        "preliminaryTesting" => pick(lang, "алдын ала сынақтар", "предварительные испытания"),
        "trialOperation" => pick(lang, "тәжірибелік пайдалану", "опытная эксплуатация"),
        "production" => pick(lang, "өнеркәсіптік пайдалану", "промышленная эксплуатация"),
        "decommissioned" => pick(lang, "пайдаланудан шығарылды", "выведен из эксплуатации"),
        _ => return None,
    })
}

/// Why usage was not billed.
pub fn unbilled_reason(lang: Lang, r: &str) -> Option<&'static str> {
    Some(match r {
        "not-an-environment" => pick(
            lang,
            "платформалық өнімнің ортасы емес",
            "не среда платформенного продукта",
        ),
        "uncatalogued-image" => pick(lang, "каталогта жоқ бейне", "образ не из каталога"),
        _ => return None,
    })
}

/// A country of the residency statement, by its ISO 3166-1 code.
pub fn country(lang: Lang, code: &str) -> Option<&'static str> {
    Some(match code {
        "KZ" => pick(lang, "Қазақстан", "Казахстан"),
        _ => return None,
    })
}

/// A rating finding (`rules/src/billing/rating.rs` writes them in English for the JSON):
/// its translation, recognized by its wording.
pub fn note(lang: Lang, n: &str) -> Option<String> {
    if let Some(rest) = n.strip_prefix("agency ")
        && let Some(agency) = rest.strip_suffix(
            " has no contract date: its non-production usage gets no free period (R-ENV-04)",
        )
    {
        return Some(match lang {
            Lang::Kk => format!(
                "«{agency}» мемлекеттік органының шарт күні жоқ: оның өнеркәсіптік емес орталарына жеңілдік кезеңі берілмейді (R-ENV-04)"
            ),
            Lang::Ru => format!(
                "у государственного органа «{agency}» нет даты договора: его непромышленным средам льготный период не предоставляется (R-ENV-04)"
            ),
        });
    }
    if let Some(rest) = n.strip_prefix("ledger resource ")
        && let Some((ledger, rest)) = rest.split_once(" does not fit the unit of ")
        && let Some((resource, rest)) = rest.split_once(" in tariff ")
        && let Some(tariff) = rest.strip_suffix(": listed as unpriced")
    {
        return Some(match lang {
            Lang::Kk => format!(
                "«{ledger}» есеп ресурсы «{tariff}» тарифіндегі «{resource}» өлшем бірлігіне сәйкес келмейді: тарифсіз көрсетілді"
            ),
            Lang::Ru => format!(
                "ресурс учёта «{ledger}» не соответствует единице «{resource}» в тарифе «{tariff}»: показан без тарифа"
            ),
        });
    }
    None
}
