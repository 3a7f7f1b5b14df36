//! `rpod build --jobs`: independent stages of a multi-stage build at once.
//! Overlap is shown without timing: each stage's RUN marks a shared
//! directory (a --volume) and waits for the other's mark, which it can
//! only see if both run at the same time.

use crate::build::{alpine, chown, context};
use crate::common::*;

/// Two independent stages that each record whether they saw the other
/// running ("overlap") or not ("alone", after WAIT seconds), and a final
/// stage that collects both results.
fn containerfile() -> String {
    let stage = |me: &str, other: &str| {
        format!(
            "FROM {img} AS {me}\n\
             ARG WAIT=120\n\
             RUN touch /shared/{me}; i=0; \
             while [ ! -e /shared/{other} ] && [ $i -lt $WAIT ]; do sleep 1; i=$((i+1)); done; \
             if [ -e /shared/{other} ]; then echo overlap; else echo alone; fi > /{me}.result\n",
            img = alpine()
        )
    };
    format!(
        "{}{}FROM {}\nCOPY --from=a /a.result /\nCOPY --from=b /b.result /\n",
        stage("a", "b"),
        stage("b", "a"),
        alpine()
    )
}

fn shared(env: &Env) -> String {
    let d = env.dir.join("shared");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    chown(env, &d);
    format!("{}:/shared", d.display())
}

fn results(env: &Env, img: &str) -> String {
    env.rpod_ok(&["run", "--rm", img, "cat", "/a.result", "/b.result"])
}

#[test]
fn build_jobs_runs_independent_stages_at_once() {
    let env = new_env("bjobs");
    let ctx = context(&env, "ctx", &[("Containerfile", &containerfile())]);
    let c = ctx.to_str().unwrap();
    for jobs in ["2", "0"] {
        let vol = shared(&env);
        let out = env.rpod_ok(&[
            "build",
            "--no-cache",
            "--jobs",
            jobs,
            "-v",
            &vol,
            "-t",
            "par",
            c,
        ]);
        assert_eq!(
            results(&env, "par"),
            "overlap\noverlap\n",
            "--jobs {jobs}: {out}"
        );
        // Every line of a stage built on the side names its stage.
        assert!(out.contains("[1/3] STEP 3/3: RUN touch /shared/a"), "{out}");
        assert!(out.contains("[2/3] STEP 3/3: RUN touch /shared/b"), "{out}");
        assert!(out.contains("[1/3] --> "), "{out}");
        assert!(out.contains("[2/3] --> "), "{out}");
        assert!(out.contains("[3/3] COMMIT par\n"), "{out}");
    }
    // The default (podman's) is one stage after the other: the first
    // stage never sees the second.
    let vol = shared(&env);
    let out = env.rpod_ok(&[
        "build",
        "--no-cache",
        "--build-arg",
        "WAIT=1",
        "-v",
        &vol,
        "-t",
        "ser",
        c,
    ]);
    assert_eq!(results(&env, "ser"), "alone\noverlap\n", "{out}");
    assert_clean(&env, &[]);
}

#[test]
fn build_jobs_failure_in_one_stage_kills_the_others_and_leaves_nothing() {
    let env = new_env("bjobsfail");
    // The slow stage would mark /shared/slow-done after its sleep: it is
    // killed when the other stage fails, so the build ends without it.
    let cf = format!(
        "FROM {a} AS slow\nRUN touch /shared/slow-started; sleep 120; touch /shared/slow-done\n\
         FROM {a} AS bad\nRUN while [ ! -e /shared/slow-started ]; do sleep 0.2; done; exit 3\n\
         FROM {a}\nCOPY --from=slow /etc/hostname /f\nCOPY --from=bad /etc/hostname /h\n",
        a = alpine()
    );
    let ctx = context(&env, "ctx", &[("Containerfile", &cf)]);
    let vol = shared(&env);
    let (code, err) = env.rpod_fail(&[
        "build",
        "--jobs",
        "2",
        "-v",
        &vol,
        "-t",
        "nope",
        ctx.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("building at STEP \"RUN while [ ! -e /shared/slow-started ]")
            && err.contains("exit 3\": while running runtime: exit status 3"),
        "{err}"
    );
    assert!(env.rpod(&["image", "exists", "nope"]).status.code() == Some(1));
    assert!(env.dir.join("shared/slow-started").exists());
    assert!(
        !env.dir.join("shared/slow-done").exists(),
        "the other stage's RUN was not killed"
    );
    assert_clean(&env, &[]);
}
