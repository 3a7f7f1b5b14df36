//! podman's command-line grammar (cobra/pflag) laid over rpod's clap tree in
//! one place, so every command and every flag added later follows it:
//!
//! - a scalar flag given twice takes the last value (`-w /a -w /b` is /b,
//!   `--name a --name b` is b), where clap would refuse the second;
//! - a boolean flag takes an optional attached value: `--rm`, `--rm=false`,
//!   `-t=false`, `-dit`, with pflag's spellings (1 0 t f T F true false
//!   TRUE FALSE True False). The next word is never its value: `--rm false`
//!   is `--rm` and then the argument `false`, as in podman.
//!
//! `Cli::command()` applies `podman_grammar`, so parsing, `--help`, the man
//! pages and the completions all see the same definitions (the static
//! completion scripts through `bool_options_as_flags`, which shows each
//! bool option as the plain flag it is for a shell). A usage error exits
//! 125, as podman's (`cli::usage_exit`).

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Arg, ArgAction, Command};
use std::ffi::OsStr;

/// The value name shown for a boolean flag's optional value: `--rm[=<BOOL>]`.
pub const BOOL: &str = "BOOL";

/// Apply podman's grammar to a command and all its subcommands.
pub fn podman_grammar(cmd: Command) -> Command {
    // A global setting: clap hands it down to every subcommand.
    walk(cmd.args_override_self(true))
}

fn walk(cmd: Command) -> Command {
    cmd.mut_args(|a| optional_attached(bool_flag(a)))
        .mut_subcommands(walk)
}

/// pflag never takes the next word for a flag whose value may be left out
/// (`--pull`, `--pull=always`; `--pull always` is `--pull` and an argument).
fn optional_attached(arg: Arg) -> Arg {
    let optional = arg.get_num_args().is_some_and(|r| r.min_values() == 0);
    if optional && !arg.is_positional() && arg.get_action().takes_values() {
        arg.require_equals(true)
    } else {
        arg
    }
}

/// The tree as a static completion script should see it: each bool option
/// a plain flag. (clap_complete knows nothing of `require_equals`: it would
/// offer true/false as the next word, which pflag never reads as the
/// flag's value, and fish's argparse would swallow the next word.)
pub fn bool_options_as_flags(cmd: Command) -> Command {
    cmd.mut_args(|a| {
        if is_bool_option(&a) {
            a.action(ArgAction::SetTrue)
                .num_args(0)
                .require_equals(false)
                .value_parser(clap::value_parser!(bool))
                .default_value(None)
                .default_missing_value(None)
                .value_names(None::<&str>)
                .hide_possible_values(false)
                .hide_default_value(false)
        } else {
            a
        }
    })
    .mut_subcommands(bool_options_as_flags)
}

/// Whether `arg` is a boolean option (after `podman_grammar`, or a flag
/// clap would treat as one before it).
pub fn is_bool_option(arg: &Arg) -> bool {
    !arg.is_positional()
        && (matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
            || (matches!(arg.get_action(), ArgAction::Set | ArgAction::Append)
                && arg.get_value_parser().type_id() == std::any::TypeId::of::<bool>()))
}

/// A boolean option in pflag's form: `--flag` alone is its "missing" value
/// (true, or false for a SetFalse flag), `--flag=VALUE` sets it, the next
/// word is never taken.
fn bool_flag(arg: Arg) -> Arg {
    if !is_bool_option(&arg) {
        return arg;
    }
    let (missing, default) = match arg.get_action() {
        ArgAction::SetTrue => ("true", "false"),
        ArgAction::SetFalse => ("false", "true"),
        // Already valued (`Option<bool>` or `bool` with a default): keep
        // its default; only the grammar and the spellings change. (rpod
        // has no valued bool whose bare form means false.)
        _ => {
            return optional_value(arg.value_name(BOOL)).default_missing_value("true");
        }
    };
    let arg = if arg.get_default_values().is_empty() {
        arg.default_value(default)
    } else {
        arg
    };
    // A plain flag's default is what it says without the flag: not shown.
    let arg = arg.value_name(BOOL).hide_default_value(true);
    optional_value(arg.action(ArgAction::Set).default_missing_value(missing))
}

fn optional_value(arg: Arg) -> Arg {
    arg.num_args(0..=1)
        .require_equals(true)
        .value_parser(PflagBool)
        .hide_possible_values(true)
}

/// strconv.ParseBool, which pflag's bool flags use.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// clap's value parser for `parse_bool`; a bad value gets clap's usual
/// "invalid value" error listing true and false.
#[derive(Clone, Copy, Debug)]
pub struct PflagBool;

impl TypedValueParser for PflagBool {
    type Value = bool;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<bool, clap::Error> {
        if let Some(b) = value.to_str().and_then(parse_bool) {
            return Ok(b);
        }
        PossibleValuesParser::new(["true", "false"])
            .parse_ref(cmd, arg, value)
            .map(|s| s == "true")
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            ["true", "false"]
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pflag_spellings() {
        for s in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_bool(s), Some(true), "{s}");
        }
        for s in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_bool(s), Some(false), "{s}");
        }
        for s in ["", "yes", "no", "tRUE", "2", "on"] {
            assert_eq!(parse_bool(s), None, "{s}");
        }
    }
}

/// Walks rpod's whole command tree, so a flag added later cannot escape
/// podman's grammar.
#[cfg(test)]
mod tree {
    use super::*;
    use clap::CommandFactory;

    /// Every leaf command (with its path), built, with nothing required so
    /// that one flag can be parsed alone.
    fn leaves() -> Vec<(String, Command)> {
        fn relax(cmd: Command) -> Command {
            cmd.mut_args(|a| a.required(false))
                .subcommand_required(false)
                .arg_required_else_help(false)
                .mut_subcommands(relax)
        }
        fn walk(cmd: &Command, path: &str, out: &mut Vec<(String, Command)>) {
            if cmd.get_subcommands().next().is_none() {
                out.push((path.to_string(), cmd.clone()));
            }
            for s in cmd.get_subcommands() {
                walk(s, &format!("{path} {}", s.get_name()), out);
            }
        }
        let mut top = relax(crate::cli::Cli::command());
        top.build();
        let mut out = Vec::new();
        walk(&top, "rpod", &mut out);
        out
    }

    fn options(cmd: &Command) -> impl Iterator<Item = &Arg> {
        cmd.get_arguments().filter(|a| {
            !a.is_positional() && !matches!(a.get_action(), ArgAction::Help | ArgAction::Version)
        })
    }

    fn spelling(a: &Arg) -> String {
        match a.get_long() {
            Some(l) => format!("--{l}"),
            None => format!("-{}", a.get_short().unwrap()),
        }
    }

    /// Parse one leaf's flags; a missing operand (CONTAINER…) is no error
    /// here.
    fn parse(cmd: &Command, args: &[String]) -> Result<clap::ArgMatches, clap::Error> {
        let mut argv = vec![cmd.get_name().to_string()];
        argv.extend(args.iter().cloned());
        match cmd.clone().try_get_matches_from(&argv) {
            Err(e) if e.kind() == clap::error::ErrorKind::MissingRequiredArgument => {
                cmd.clone().ignore_errors(true).try_get_matches_from(&argv)
            }
            r => r,
        }
    }

    #[test]
    fn completions_see_bool_options_as_plain_flags() {
        let cmd = bool_options_as_flags(crate::cli::Cli::command());
        cmd.clone().debug_assert();
        let run = cmd.find_subcommand("run").unwrap();
        for long in ["rm", "tty", "init", "http-proxy"] {
            let a = run
                .get_arguments()
                .find(|a| a.get_long() == Some(long))
                .unwrap();
            assert!(matches!(a.get_action(), ArgAction::SetTrue), "--{long}");
        }
    }

    #[test]
    fn every_bool_flag_takes_pflag_values_and_never_the_next_word() {
        let mut n = 0;
        for (path, cmd) in leaves() {
            for a in options(&cmd).filter(|a| is_bool_option(a)) {
                n += 1;
                let id = a.get_id().as_str();
                let f = spelling(a);
                let got = |args: &[String]| -> Option<bool> {
                    let m = parse(&cmd, args).unwrap_or_else(|e| panic!("{path} {args:?}: {e}"));
                    m.get_one::<bool>(id).copied()
                };
                for (v, want) in [("false", false), ("true", true), ("0", false), ("T", true)] {
                    assert_eq!(got(&[format!("{f}={v}")]), Some(want), "{path} {f}={v}");
                }
                // Given twice, the last wins.
                assert_eq!(
                    got(&[format!("{f}=true"), format!("{f}=false")]),
                    Some(false),
                    "{path} {f}=true {f}=false"
                );
                // The bare flag sets it (rpod has no SetFalse flag).
                assert_eq!(got(std::slice::from_ref(&f)), Some(true), "{path} {f}");
                if let Some(s) = a.get_short() {
                    assert_eq!(
                        got(&[format!("-{s}=false")]),
                        Some(false),
                        "{path} -{s}=false"
                    );
                }
                assert!(
                    a.is_require_equals_set(),
                    "{path} {f}: a bool must not take the next word as its value"
                );
                assert!(
                    parse(&cmd, &[format!("{f}=maybe")]).is_err(),
                    "{path} {f}=maybe"
                );
            }
        }
        assert!(n > 1000, "only {n} bool flags found");
    }

    /// Values tried for a scalar flag, the first its value parser accepts
    /// is used.
    const CANDIDATES: &[&str] = &[
        "1",
        "10",
        "json",
        "a",
        "1m",
        "/a",
        "a=b",
        "1:1",
        "tcp",
        "all",
        "none",
        "host",
        "always",
        "k8s-file",
        "SIGTERM",
        "2024-01-01T00:00:00Z",
        "1s",
    ];

    #[test]
    fn every_scalar_flag_can_be_repeated_and_the_last_wins() {
        let mut n = 0;
        let mut untried = Vec::new();
        for (path, cmd) in leaves() {
            for a in options(&cmd) {
                if is_bool_option(a) || !matches!(a.get_action(), ArgAction::Set) {
                    continue;
                }
                let id = a.get_id().as_str();
                let f = spelling(a);
                let possible: Vec<String> = a
                    .get_possible_values()
                    .iter()
                    .map(|p| p.get_name().to_string())
                    .collect();
                let values: Vec<String> = if possible.is_empty() {
                    CANDIDATES.iter().map(|s| s.to_string()).collect()
                } else {
                    possible
                };
                let ok: Vec<&String> = values
                    .iter()
                    .filter(|v| parse(&cmd, &[format!("{f}={v}")]).is_ok())
                    .take(2)
                    .collect();
                let Some(first) = ok.first() else {
                    untried.push(format!("{path} {f}"));
                    continue;
                };
                let last = ok.last().unwrap();
                n += 1;
                let args = if a.get_num_args().is_some_and(|r| r.min_values() == 0) {
                    vec![format!("{f}={first}"), format!("{f}={last}")]
                } else {
                    vec![f.clone(), first.to_string(), f.clone(), last.to_string()]
                };
                let m = parse(&cmd, &args).unwrap_or_else(|e| panic!("{path} {args:?}: {e}"));
                let raw: Vec<_> = m.get_raw(id).unwrap().collect();
                assert_eq!(raw, [last.as_str()], "{path} {f} given twice");
            }
        }
        assert!(n > 3000, "only {n} scalar flags tried");
        assert!(untried.len() < 10, "no value found for: {untried:#?}");
    }
}
