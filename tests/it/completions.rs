//! Shell completion: the committed scripts are what `rpod completion` prints
//! today, and the scripts complete real containers, images and --network
//! modes in real shells (bash always; zsh and fish when installed), as the
//! unprivileged test user.

use crate::common::Env;
use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPTS: &[(&str, &str)] = &[
    ("bash", "rpod.bash"),
    ("zsh", "_rpod"),
    ("fish", "rpod.fish"),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate(shell: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rpod"))
        .args(["completion", shell])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// RPOD_BLESS=1 rewrites the committed files instead of failing.
#[test]
fn committed_scripts_are_current() {
    let mut stale = Vec::new();
    for (shell, file) in SCRIPTS {
        let path = repo().join("completions").join(file);
        let want = generate(shell);
        if std::env::var_os("RPOD_BLESS").is_some() {
            std::fs::write(&path, &want).unwrap();
            continue;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale completion scripts {stale:?}: the CLI changed. Regenerate them with \
         `RPOD_BLESS=1 cargo test --test it completions::committed_scripts_are_current`"
    );
}

#[test]
fn file_flag_writes_the_same_script() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("rpod.fish");
    let st = Command::new(env!("CARGO_BIN_EXE_rpod"))
        .args(["completion", "fish", "-f"])
        .arg(&f)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(std::fs::read_to_string(&f).unwrap(), generate("fish"));
    let out = Command::new(env!("CARGO_BIN_EXE_rpod"))
        .args(["completion", "tcsh"])
        .output()
        .unwrap();
    // A usage error: podman's 125.
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcsh"));
}

#[test]
fn hidden_commands_are_not_offered() {
    for (shell, _) in SCRIPTS {
        let s = generate(shell);
        // The internal entry points never appear as a candidate.
        for hidden in ["__monitor", "__complete", "__man"] {
            let offered = match *shell {
                "bash" => s
                    .lines()
                    .filter(|l| l.trim_start().starts_with("opts=\""))
                    .any(|l| l.split(['"', ' ']).any(|w| w == hidden)),
                "zsh" => s.lines().any(|l| l.starts_with(&format!("'{hidden}:"))),
                _ => s.contains(&format!("-a \"{hidden}\"")),
            };
            assert!(!offered, "{shell} offers {hidden}");
        }
    }
}

/// A user with an image, a running container and a created one.
fn populated_env(name: &str) -> (Env, String, String) {
    let env = Env::new(name);
    let img = env.image("alpine");
    env.rpod_ok(&["pull", "-q", &img]);
    let up = env.rpod_ok(&["run", "-d", "--name", "webserver", &img, "sleep", "1000"]);
    let created = env.rpod_ok(&["create", "--name", "dbjob", &img, "true"]);
    (env, up.trim().to_string(), created.trim().to_string())
}

fn cleanup(env: &Env) {
    env.rpod_ok(&["rm", "-a", "-f", "-t", "0"]);
}

/// The committed script, readable by the test user.
fn script_for(env: &Env, file: &str) -> PathBuf {
    let p = env.dir.join(file);
    std::fs::copy(repo().join("completions").join(file), &p).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    p
}

/// Call the bash completion function as bash would for a command line:
/// COMP_WORDS split as bash splits them (blanks, and the word-break
/// characters, which become words of their own), cursor at the end.
const BASH_DRIVER: &str = r#"
source "$SCRIPT"
comp() {
    local line=$1
    COMP_LINE=$line
    COMP_POINT=${#line}
    COMP_WORDS=()
    local w="" c i
    for ((i = 0; i < ${#line}; i++)); do
        c=${line:i:1}
        if [[ $c == " " ]]; then
            [[ -n $w ]] && COMP_WORDS+=("$w")
            w=""
        elif [[ $COMP_WORDBREAKS == *"$c"* ]]; then
            [[ -n $w ]] && COMP_WORDS+=("$w")
            COMP_WORDS+=("$c")
            w=""
        else
            w+=$c
        fi
    done
    COMP_WORDS+=("$w")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _rpod_dynamic rpod "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s\n' "${COMPREPLY[@]}" | sort | paste -sd' ' -
}
"#;

fn bash_complete(env: &Env, script: &Path, lines: &[&str]) -> Vec<String> {
    let mut s = format!("SCRIPT={}\n{BASH_DRIVER}", script.display());
    for l in lines {
        s.push_str(&format!("comp '{l}'\n"));
    }
    let out = env.sh_ok(&s);
    out.lines().map(|l| l.to_string()).collect()
}

#[test]
fn bash_completes_containers_images_and_networks() {
    let (env, up_id, _) = populated_env("compbash");
    let script = script_for(&env, "rpod.bash");
    let got = bash_complete(
        &env,
        &script,
        &[
            "rpod stop ",
            "rpod start ",
            "rpod rm ",
            "rpod container rm -f ",
            "rpod exec -it w",
            "rpod logs --tail 5 ",
            "rpod run --rm ",
            // bash splits at ':' by default; the reply replaces only "5000/al".
            "rpod run localhost:5000/al",
            "rpod rmi ",
            "rpod run --network ",
            "rpod run --network=container:w",
            "rpod inspect ",
            &format!("rpod stop {}", &up_id[..4]),
            // The rest is clap's static completion.
            "rpod ru",
            "rpod run --rea",
            "rpod image ",
        ],
    );
    let img = env.image("alpine") + ":latest";
    let img_tail = img.split_once(':').unwrap().1.to_string();
    let want = [
        "webserver".to_string(),
        "dbjob".into(),
        "dbjob webserver".into(),
        "dbjob webserver".into(),
        "webserver".into(),
        "dbjob webserver".into(),
        img.clone(),
        img_tail,
        img.clone(),
        // (podman: the default network, listed with the user's networks)
        "container: host none pasta podman private slirp4netns".into(),
        // bash replaces only what follows the last ':'.
        "webserver".into(),
        format!("dbjob {img} webserver"),
        up_id[..12].to_string(),
        "run".into(),
        "--read-only --read-only-tmpfs".into(),
        "inspect ls prune pull rm tag untag".into(),
    ];
    for (i, w) in want.iter().enumerate() {
        let got = got.get(i).map(String::as_str).unwrap_or("<none>");
        if i == 15 {
            for sub in w.split(' ') {
                assert!(
                    got.split(' ').any(|g| g == sub),
                    "line {i}: {sub} not in {got}"
                );
            }
        } else {
            assert_eq!(got, w, "line {i}");
        }
    }
    cleanup(&env);
}

#[test]
fn zsh_completes_containers_and_images() {
    if Command::new("zsh").arg("-c").arg("true").status().is_err() {
        println!("skipped: zsh is not installed (apt-get install zsh)");
        return;
    }
    let (env, _, _) = populated_env("compzsh");
    let script = script_for(&env, "_rpod");
    // compadd only works inside a completion widget: stand in for it.
    let out = env.sh_ok(&format!(
        r#"zsh -f -c '
autoload -U compinit; compinit -u -d "$HOME/.zcompdump"
source {s}
compadd() {{ local i=${{@[(i)--]}}; shift $i; print -l -- "$@" | sort | paste -sd" " - }}
words=(rpod stop ""); CURRENT=3; _rpod
words=(rpod rm ""); CURRENT=3; _rpod
words=(rpod run --network p); CURRENT=4; _rpod
words=(rpod run localhost:5000/al); CURRENT=3; _rpod
'"#,
        s = script.display()
    ));
    let img = env.image("alpine") + ":latest";
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "webserver",
            "dbjob webserver",
            "pasta podman private",
            img.as_str()
        ]
    );
    zsh_syntax_ok(&script);
    cleanup(&env);
}

fn zsh_syntax_ok(script: &Path) {
    let st = Command::new("zsh").arg("-n").arg(script).status().unwrap();
    assert!(st.success(), "zsh -n {}", script.display());
}

#[test]
fn fish_completes_containers_images_and_networks() {
    if Command::new("fish").arg("-c").arg("true").status().is_err() {
        println!("skipped: fish is not installed (apt-get install fish)");
        return;
    }
    let (env, _, _) = populated_env("compfish");
    let script = script_for(&env, "rpod.fish");
    let out = env.sh_ok(&format!(
        r#"export XDG_CONFIG_HOME=$HOME/.config; fish --no-config -c '
source {s}
for line in "rpod stop " "rpod rm " "rpod run --network " "rpod run --network=container:w" "rpod run local" "rpod ru"
    complete -C "$line" | cut -f1 | sort | paste -sd" " -
end'"#,
        s = script.display()
    ));
    let img = env.image("alpine") + ":latest";
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "webserver",
            "dbjob webserver",
            "container: host none pasta podman private slirp4netns",
            "--network=container:webserver",
            img.as_str(),
            "run"
        ]
    );
    cleanup(&env);
}

#[test]
fn dynamic_completion_answers_from_the_records() {
    // 300 containers and 100 images as rpod writes their records: the
    // answer comes from the small JSON files alone (how fast that is belongs
    // to benches/, not to a test).
    let env = Env::new("compfast");
    let root = env.dir.join("root");
    for i in 0..300 {
        let id = format!("{i:064x}");
        let d = root.join("containers").join(&id);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("container.json"),
            format!(r#"{{"id":"{id}","name":"ctr{i}","image_id":"x","command":["sleep","1"],"env":["A=1"]}}"#),
        )
        .unwrap();
        std::fs::write(d.join("state.json"), r#"{"status":"running","pid":1}"#).unwrap();
    }
    std::fs::create_dir_all(root.join("images")).unwrap();
    for i in 0..100 {
        let id = format!("{:064x}", 1_000_000 + i);
        std::fs::write(
            root.join("images").join(format!("{id}.json")),
            format!(r#"{{"id":"{id}","names":["localhost:5000/img{i}:latest"],"layers":[]}}"#),
        )
        .unwrap();
    }
    Command::new("chown")
        .args(["-R", &format!("{}:", env.user)])
        .arg(&root)
        .status()
        .unwrap();
    let r = root.display().to_string();
    let args = ["__complete", "--", "--root", &r, "stop", "ctr29"];
    let out = env.rpod_ok(&args);
    assert_eq!(out.lines().count(), 11, "{out}"); // ctr29, ctr290..ctr299
    let out = env.rpod_ok(&[
        "__complete",
        "--",
        "--root",
        &r,
        "run",
        "localhost:5000/img9",
    ]);
    assert_eq!(out.lines().count(), 11, "{out}");
    // Not dynamic here: exit status 1, nothing printed, static completion answers.
    let out = env.rpod(&["__complete", "--", "--root", &r, "run", "--na"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}
