//! Completion of `kubectl pbo …` through kubectl (1.26 and later). For a plugin
//! `pbo`, kubectl runs the executable `kubectl_complete-pbo` with the words typed after
//! `pbo` (the last one is the word being completed, maybe empty) and reads cobra's
//! `__complete` answer: one candidate a line, `value<TAB>description`, then a line
//! `:<directive>`. kubectl-pbo gives that answer when it is run under that name (a
//! symlink) or as `kubectl-pbo __complete …`.
//!
//! The answer comes from the clap definition of the commands, so it cannot drift from
//! what the plugin accepts.

use clap::{Arg, Command};

/// Cobra's ShellCompDirectiveDefault: the shell may also complete file names.
const FILES: u8 = 0;
/// Cobra's ShellCompDirectiveNoFileComp: only the candidates given.
const NO_FILES: u8 = 4;

/// The name kubectl looks for on the PATH.
pub const EXECUTABLE: &str = "kubectl_complete-pbo";

/// The `__complete` answer for `words` (the words after `kubectl pbo`).
pub fn answer(command: Command, words: &[String]) -> String {
    let (candidates, directive) = complete(command, words);
    let mut out = String::new();
    for (value, help) in candidates {
        out.push_str(&value);
        if !help.is_empty() {
            out.push('\t');
            out.push_str(&help);
        }
        out.push('\n');
    }
    out.push_str(&format!(":{directive}\n"));
    out
}

/// The candidates (value, description) for the last of `words`, and the directive.
fn complete(mut command: Command, words: &[String]) -> (Vec<(String, String)>, u8) {
    // Global flags (-o, -n, --context, --kubeconfig) are then on every subcommand.
    command.build();
    let (to_complete, before) = match words.split_last() {
        Some((last, before)) => (last.as_str(), before),
        None => ("", &[][..]),
    };
    let mut current = &command;
    let mut awaiting: Option<&Arg> = None;
    for word in before {
        if awaiting.take().is_some() {
            continue; // the value of the flag before it
        }
        if let Some(long) = word.strip_prefix("--") {
            if !long.contains('=') {
                awaiting = current
                    .get_arguments()
                    .find(|a| a.get_long() == Some(long))
                    .filter(|a| takes_value(a));
            }
        } else if let Some(short) = word.strip_prefix('-').filter(|s| s.chars().count() == 1) {
            awaiting = current
                .get_arguments()
                .find(|a| a.get_short().map(String::from).as_deref() == Some(short))
                .filter(|a| takes_value(a));
        } else if let Some(sub) = current.find_subcommand(word) {
            current = sub;
        }
    }
    if let Some(flag) = awaiting {
        return values(flag, to_complete, "");
    }
    if let Some((name, value)) = to_complete
        .strip_prefix("--")
        .and_then(|rest| rest.split_once('='))
    {
        return match current.get_arguments().find(|a| a.get_long() == Some(name)) {
            Some(flag) => values(flag, value, &format!("--{name}=")),
            None => (Vec::new(), NO_FILES),
        };
    }
    if to_complete.starts_with('-') {
        let flags = current
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| Some((format!("--{}", a.get_long()?), help(a))))
            .filter(|(flag, _)| flag.starts_with(to_complete))
            .collect();
        return (flags, NO_FILES);
    }
    let subcommands: Vec<(String, String)> = current
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| {
            let about = s.get_about().map(|a| a.to_string()).unwrap_or_default();
            (s.get_name().to_owned(), first_line(&about))
        })
        .filter(|(name, _)| name.starts_with(to_complete))
        .collect();
    if current.has_subcommands() {
        return (subcommands, NO_FILES);
    }
    // A positional argument: its possible values, or free text (a name, a directory).
    match current
        .get_positionals()
        .find(|a| !a.get_possible_values().is_empty())
    {
        Some(positional) => values(positional, to_complete, ""),
        None => (Vec::new(), FILES),
    }
}

/// The possible values of `arg` that start with `prefix`, each written after `lead`;
/// file names when it has none.
fn values(arg: &Arg, prefix: &str, lead: &str) -> (Vec<(String, String)>, u8) {
    let possible = arg.get_possible_values();
    if possible.is_empty() {
        return (Vec::new(), FILES);
    }
    let candidates = possible
        .iter()
        .filter(|v| !v.is_hide_set() && v.get_name().starts_with(prefix))
        .map(|v| {
            let help = v.get_help().map(|h| h.to_string()).unwrap_or_default();
            (format!("{lead}{}", v.get_name()), first_line(&help))
        })
        .collect();
    (candidates, NO_FILES)
}

fn takes_value(arg: &Arg) -> bool {
    arg.get_action().takes_values()
}

fn help(arg: &Arg) -> String {
    first_line(&arg.get_help().map(|h| h.to_string()).unwrap_or_default())
}

/// Shells show one line per candidate.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn ask(words: &[&str]) -> String {
        let words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        answer(crate::Cli::command(), &words)
    }

    #[test]
    fn subcommands_with_their_descriptions_and_no_files() {
        let out = ask(&[""]);
        for sub in ["status\t", "promote\t", "usage\t", "estimate\t", "report\t"] {
            assert!(out.contains(sub), "{sub} missing from:\n{out}");
        }
        assert!(out.ends_with(":4\n"), "{out}");
        let out = ask(&["est"]);
        assert!(out.starts_with("estimate\t") && out.contains("estimate-development\t"));
        assert!(!out.contains("status"), "{out}");
    }

    #[test]
    fn flags_of_the_subcommand_including_the_global_ones() {
        let out = ask(&["promote", "q00", "--"]);
        for flag in [
            "--to\t",
            "--act\t",
            "--dry-run\t",
            "--namespace\t",
            "--output\t",
        ] {
            assert!(out.contains(flag), "{flag} missing from:\n{out}");
        }
    }

    #[test]
    fn values_of_a_flag_after_it_or_after_its_equals_sign() {
        assert_eq!(
            ask(&["promote", "q00", "--dry-run", ""]),
            "none\nserver\n:4\n"
        );
        let json = ask(&["status", "q00", "-o", "j"]);
        assert!(
            json.starts_with("json\t") && json.ends_with("\n:4\n"),
            "{json}"
        );
        assert_eq!(json.lines().count(), 2, "only json: {json}");
        let yaml = ask(&["status", "q00", "--output=y"]);
        assert!(yaml.starts_with("--output=yaml\t"), "{yaml}");
        let stages = ask(&["promote", "q00", "--to", ""]);
        for stage in [
            "development",
            "trialOperation",
            "production",
            "decommissioned",
        ] {
            assert!(stages.contains(stage), "{stage} missing from:\n{stages}");
        }
    }

    #[test]
    fn nested_subcommands_and_free_arguments() {
        let out = ask(&["report", ""]);
        assert!(out.contains("get\t") && out.contains("verify\t"), "{out}");
        // A file or a name: the shell completes it.
        assert_eq!(ask(&["estimate", "-f", ""]), ":0\n");
        assert_eq!(ask(&["-n", "agency-mon", "status", ""]), ":0\n");
    }
}
