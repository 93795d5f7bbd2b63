//! `kubectl pbo promote <pbo> --to <stage> --act type=…,file=…[,number=…,date=…,uri=…,result=…]`:
//! adds the signed documents (their SHA-256 computed from the files) and sets the stage
//! in one merge patch with field manager `kubectl-pbo`. The API server decides: its
//! CEL rules refuse a closed gate, and its message is shown verbatim.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use akp_crds::product::{Act, ActResult, ActType};
use akp_crds::{PlatformSoftwareProduct, Stage};
use akp_rules::clocks;
use jiff::civil::Date;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cluster::{ClusterArgs, get_error, server_error};
use crate::error::CliError;
use crate::output::{Color, Output, Style, Table, plain};

/// The field manager of the plugin's writes.
pub const FIELD_MANAGER: &str = "kubectl-pbo";

/// A stage as the API writes it (`trialOperation`).
pub fn parse_stage(text: &str) -> Result<Stage, String> {
    Stage::ALL
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| {
            format!(
                "{text:?} is not a stage: use one of {}",
                Stage::ALL.map(Stage::as_str).join(", ")
            )
        })
}

/// Parses `--to` with [`parse_stage`]'s message, and lists the stages for help and
/// completion (`kubectl pbo promote NAME --to <TAB>`).
#[derive(Clone, Copy, Debug)]
struct StageParser;

impl clap::builder::TypedValueParser for StageParser {
    type Value = Stage;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Stage, clap::Error> {
        let text = value.to_string_lossy();
        parse_stage(&text).map_err(|message| {
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("--to: {message}\n"),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            Stage::ALL
                .into_iter()
                .map(|s| clap::builder::PossibleValue::new(s.as_str())),
        ))
    }
}

fn parse_act_type(text: &str) -> Result<ActType, String> {
    ActType::ALL
        .into_iter()
        .find(|t| t.as_str() == text)
        .ok_or_else(|| {
            format!(
                "type={text} is not an act type: use one of {}",
                ActType::ALL.map(ActType::as_str).join(", ")
            )
        })
}

/// `--act type=…,file=…[,number=…,date=…,uri=…,result=…]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActArg {
    /// The act's type.
    pub type_: ActType,
    /// The signed document.
    pub file: PathBuf,
    /// The document's number; default: the file name without its extension.
    pub number: Option<String>,
    /// The document's date; default: today in Kazakhstan.
    pub date: Option<Date>,
    /// Where the document is kept.
    pub uri: Option<String>,
    /// What an information-security test protocol concludes (R-LC-04): required for
    /// `infoSecTestProtocol`, refused for the other acts.
    pub result: Option<ActResult>,
}

const ACT_SYNTAX: &str = "--act type=<act type>,file=<signed document>[,number=<number>][,date=YYYY-MM-DD][,uri=<link>][,result=positive|negative]";

impl FromStr for ActArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (mut type_, mut file, mut number, mut date, mut uri, mut result) =
            (None, None, None, None, None, None);
        for part in text.split(',') {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not key=value; write {ACT_SYNTAX}"))?;
            let (key, value) = (key.trim(), value.trim());
            if value.is_empty() {
                return Err(format!("{key}= is empty; write {ACT_SYNTAX}"));
            }
            let slot: &mut Option<String> = match key {
                "type" => &mut type_,
                "file" => &mut file,
                "number" => &mut number,
                "date" => &mut date,
                "uri" => &mut uri,
                "result" => &mut result,
                other => {
                    return Err(format!(
                        "unknown key {other:?}; the keys are type, file, number, date, uri and result: {ACT_SYNTAX}"
                    ));
                }
            };
            if slot.replace(value.to_string()).is_some() {
                return Err(format!("{key}= is given twice in one --act"));
            }
        }
        let type_ = type_.ok_or_else(|| format!("the act has no type=; write {ACT_SYNTAX}"))?;
        let type_ = parse_act_type(&type_)?;
        let file = file.ok_or_else(|| {
            format!(
                "type={} needs file=<path to the signed document>: its SHA-256 is computed from the file ({ACT_SYNTAX})",
                type_.as_str()
            )
        })?;
        let date = date
            .map(|d| {
                d.parse::<Date>().map_err(|_| {
                    format!("date={d} is not a date: write YYYY-MM-DD, such as 2026-10-01")
                })
            })
            .transpose()?;
        if number.as_ref().is_some_and(|n| n.chars().count() > 64) {
            return Err("number= is longer than 64 characters".into());
        }
        let result = match (type_, result.as_deref()) {
            (ActType::InfoSecTestProtocol, Some("positive")) => Some(ActResult::Positive),
            (ActType::InfoSecTestProtocol, Some("negative")) => Some(ActResult::Negative),
            (ActType::InfoSecTestProtocol, Some(other)) => {
                return Err(format!(
                    "result={other} is not a result: write result=positive or result=negative, as the protocol concludes"
                ));
            }
            (ActType::InfoSecTestProtocol, None) => {
                return Err(format!(
                    "type=infoSecTestProtocol needs result=positive or result=negative, as the protocol concludes; only a positive one opens production (R-LC-04): {ACT_SYNTAX}"
                ));
            }
            (_, None) => None,
            (other, Some(_)) => {
                return Err(format!(
                    "result= is the conclusion of an infoSecTestProtocol only, not of a {}: remove it",
                    other.as_str()
                ));
            }
        };
        Ok(ActArg {
            type_,
            file: PathBuf::from(file),
            number,
            date,
            uri,
            result,
        })
    }
}

/// Arguments of `kubectl pbo promote`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The PlatformSoftwareProduct's name.
    pub name: String,
    /// The stage to move to: development, preliminaryTesting, trialOperation,
    /// production or decommissioned.
    #[arg(long = "to", value_parser = StageParser, value_name = "STAGE")]
    pub to: Stage,
    /// A signed document to add (repeatable):
    /// type=<act type>,file=<path>[,number=<number>][,date=YYYY-MM-DD][,uri=<link>]
    /// [,result=positive|negative] (result: infoSecTestProtocol only, required there).
    /// An act of the same type and number already on the product is replaced (the
    /// operator refuses that for an act that opened a gate); another is added beside
    /// the old ones, as after a return for rework (R-LC-09).
    #[arg(long = "act", value_name = "ACT")]
    pub acts: Vec<ActArg>,
    /// `server`: the API server checks everything and persists nothing; `none`: apply.
    #[arg(long = "dry-run", value_name = "MODE", default_value = "none", value_parser = ["none", "server"])]
    pub dry_run: String,
}

/// The SHA-256 of a file, lowercase hex, read in blocks.
pub fn sha256_file(path: &Path) -> Result<String, CliError> {
    let open_err = |e: std::io::Error| {
        CliError::Usage(format!(
            "cannot read the document {}: {e}: check the file= path of --act",
            path.display()
        ))
    };
    let mut file = std::fs::File::open(path).map_err(open_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(open_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The act an argument becomes, with its file's hash.
pub fn act_of(arg: &ActArg, sha256: String, today: Date) -> Act {
    let number = arg.number.clone().unwrap_or_else(|| {
        arg.file
            .file_stem()
            .map(|s| s.to_string_lossy().chars().take(64).collect())
            .unwrap_or_else(|| "1".into())
    });
    Act {
        type_: arg.type_,
        number,
        date: arg.date.unwrap_or(today),
        sha256,
        uri: arg.uri.clone(),
        result: arg.result,
    }
}

/// The acts after adding `new`: an act of the same type and number is replaced in
/// place, others are appended in the order given. The old acts of a gate passed
/// before a return for rework stay beside the new ones (R-LC-09).
pub fn merge_acts(existing: &[Act], new: &[Act]) -> Vec<Act> {
    let mut out: Vec<Act> = existing.to_vec();
    for act in new {
        match out
            .iter_mut()
            .find(|a| a.type_ == act.type_ && a.number == act.number)
        {
            Some(slot) => *slot = act.clone(),
            None => out.push(act.clone()),
        }
    }
    out
}

/// What `promote` did, as `-o json|yaml` prints it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromoteResult {
    pub name: String,
    pub namespace: String,
    pub from: String,
    pub to: String,
    pub dry_run: bool,
    pub acts_added: Vec<AddedAct>,
}

/// An act written by `promote`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddedAct {
    #[serde(rename = "type")]
    pub type_: String,
    pub number: String,
    pub date: String,
    pub sha256: String,
    pub file: String,
}

/// Runs `promote`.
pub async fn run(args: &Args, cluster: &ClusterArgs, output: Output) -> Result<String, CliError> {
    // Read every document before touching the cluster: a wrong path fails early.
    let today = clocks::civil_date(jiff::Timestamp::now());
    let mut new_acts = Vec::new();
    let mut added = Vec::new();
    for arg in &args.acts {
        let sha = sha256_file(&arg.file)?;
        let act = act_of(arg, sha, today);
        added.push(AddedAct {
            type_: act.type_.as_str().to_string(),
            number: act.number.clone(),
            date: act.date.to_string(),
            sha256: act.sha256.clone(),
            file: arg.file.display().to_string(),
        });
        new_acts.push(act);
    }
    let c = cluster.connect().await?;
    let api: Api<PlatformSoftwareProduct> = Api::namespaced(c.client.clone(), &c.namespace);
    let p = api
        .get(&args.name)
        .await
        .map_err(|e| get_error(e, "PlatformSoftwareProduct", &args.name, Some(&c.namespace)))?;
    let acts = merge_acts(&p.spec.acts, &new_acts);
    // The resourceVersion makes the patch fail if someone changed the product since
    // it was read, instead of overwriting their acts.
    let patch = serde_json::json!({
        "metadata": {"resourceVersion": p.resource_version()},
        "spec": {"stage": args.to.as_str(), "acts": acts},
    });
    let dry_run = args.dry_run == "server";
    let mut params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    if dry_run {
        params = params.dry_run();
    }
    let updated = api
        .patch(&args.name, &params, &Patch::Merge(&patch))
        .await
        .map_err(|e| match e {
            kube::Error::Api(s) if s.code == 409 => CliError::Server {
                code: 409,
                message: format!(
                    "Error from server (Conflict): {}: the product changed since it was read; run the command again",
                    s.message
                ),
            },
            other => server_error(other, &format!("promoting {}", args.name)),
        })?;
    let result = PromoteResult {
        name: updated.name_any(),
        namespace: c.namespace.clone(),
        from: p.spec.stage.as_str().to_string(),
        to: updated.spec.stage.as_str().to_string(),
        dry_run,
        acts_added: added,
    };
    if let Some(text) = output.serialize(&result)? {
        return Ok(text);
    }
    Ok(render(&result, Style::detect(output)))
}

/// The result as text.
pub fn render(r: &PromoteResult, style: Style) -> String {
    let mut out = format!(
        "platformsoftwareproduct.akp.egov.kz/{} {}: {} → {}{}\n",
        r.name,
        if r.from == r.to {
            "updated"
        } else {
            "promoted"
        },
        r.from,
        style.paint(&r.to, Color::Green),
        if r.dry_run {
            " (server dry run: nothing was changed)"
        } else {
            ""
        }
    );
    if !r.acts_added.is_empty() {
        let mut t = Table::new(&["act", "number", "date", "sha256", "file"]);
        for a in &r.acts_added {
            t.row(plain(&[&a.type_, &a.number, &a.date, &a.sha256, &a.file]));
        }
        out.push_str(&t.render(style));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_lc_02_act_without_file_is_refused_with_what_to_write() {
        let err = ActArg::from_str("type=trialCompletionAct").expect_err("no file");
        assert!(
            err.contains("type=trialCompletionAct needs file=<path to the signed document>"),
            "{err}"
        );
        let err = ActArg::from_str("file=a.pdf").expect_err("no type");
        assert!(err.contains("the act has no type="), "{err}");
        let err = ActArg::from_str("type=protocol,file=a.pdf").expect_err("bad type");
        assert!(err.contains("use one of preliminaryTestProtocol"), "{err}");
        let err = ActArg::from_str("type=trialCompletionAct,file=a.pdf,date=01.10.2026")
            .expect_err("bad date");
        assert!(err.contains("write YYYY-MM-DD"), "{err}");
        let err = ActArg::from_str("type=trialCompletionAct,file=a,file=b").expect_err("twice");
        assert!(err.contains("given twice"), "{err}");
        let err = ActArg::from_str("type=trialCompletionAct,path=a").expect_err("unknown");
        assert!(err.contains("unknown key \"path\""), "{err}");
        let err = ActArg::from_str("trialCompletionAct").expect_err("no =");
        assert!(err.contains("is not key=value"), "{err}");
    }

    #[test]
    fn act_arguments_parse_with_defaults() {
        let a = ActArg::from_str("type=commissioningOrder,file=/tmp/order-17.pdf,date=2026-10-01")
            .expect("act");
        assert_eq!(a.type_, ActType::CommissioningOrder);
        assert_eq!(a.date, Some(jiff::civil::date(2026, 10, 1)));
        let act = act_of(&a, "ab".repeat(32), jiff::civil::date(2026, 12, 1));
        assert_eq!(
            act.number, "order-17",
            "the file name is the default number"
        );
        assert_eq!(act.date, jiff::civil::date(2026, 10, 1));
        let b = ActArg::from_str("type=infoSecTestProtocol,file=p.pdf,number=ИБ-5,result=positive")
            .expect("act");
        let act = act_of(&b, "cd".repeat(32), jiff::civil::date(2026, 12, 1));
        assert_eq!(act.number, "ИБ-5");
        assert_eq!(act.result, Some(ActResult::Positive));
        assert_eq!(act.date, jiff::civil::date(2026, 12, 1), "today by default");
    }

    #[test]
    fn r_lc_04_the_infosec_protocol_says_its_result_and_only_it_has_one() {
        let err = ActArg::from_str("type=infoSecTestProtocol,file=p.pdf").expect_err("no result");
        assert!(
            err.contains("needs result=positive or result=negative"),
            "{err}"
        );
        assert!(err.contains("(R-LC-04)"), "{err}");
        let err = ActArg::from_str("type=infoSecTestProtocol,file=p.pdf,result=passed")
            .expect_err("bad result");
        assert!(err.starts_with("result=passed is not a result"), "{err}");
        let err = ActArg::from_str("type=commissioningOrder,file=o.pdf,result=positive")
            .expect_err("result on an order");
        assert!(err.contains("not of a commissioningOrder"), "{err}");
        let negative =
            ActArg::from_str("type=infoSecTestProtocol,file=p.pdf,result=negative").expect("act");
        assert_eq!(negative.result, Some(ActResult::Negative));
    }

    #[test]
    fn stages_parse_by_their_api_names() {
        assert_eq!(parse_stage("trialOperation"), Ok(Stage::TrialOperation));
        let err = parse_stage("trial").expect_err("bad");
        assert!(
            err.contains(
                "development, preliminaryTesting, trialOperation, production, decommissioned"
            ),
            "{err}"
        );
    }

    #[test]
    fn r_lc_09_acts_of_the_same_number_are_replaced_new_ones_added_beside() {
        let act = |t, n: &str| Act {
            type_: t,
            number: n.into(),
            date: jiff::civil::date(2026, 9, 1),
            sha256: "0".repeat(64),
            uri: None,
            result: None,
        };
        let merged = merge_acts(
            &[
                act(ActType::PreliminaryTestProtocol, "1"),
                act(ActType::TrialTransferAct, "2"),
            ],
            &[
                act(ActType::TrialTransferAct, "2"),
                act(ActType::TrialTransferAct, "3"),
                act(ActType::TrialCompletionAct, "4"),
            ],
        );
        let numbers: Vec<&str> = merged.iter().map(|a| a.number.as_str()).collect();
        assert_eq!(numbers, ["1", "2", "3", "4"]);
    }

    #[test]
    fn sha256_of_a_file_matches_the_known_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("abc.txt");
        std::fs::write(&path, b"abc").expect("write");
        assert_eq!(
            sha256_file(&path).expect("sha"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let err = sha256_file(&dir.path().join("missing.pdf")).expect_err("missing");
        assert!(
            err.to_string().contains("check the file= path of --act"),
            "{err}"
        );
    }
}
