//! Cross-process locks on files with flock(2), as cargo does: try first, and
//! only when that would block say so on stderr, then wait.

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct Lock {
    _f: Flock<File>,
}

impl Lock {
    pub fn exclusive(path: &Path) -> Result<Lock> {
        acquire(path, false, &mut |p| {
            eprintln!("waiting for lock on {}", p.display())
        })
    }

    pub fn shared(path: &Path) -> Result<Lock> {
        acquire(path, true, &mut |p| {
            eprintln!("waiting for lock on {}", p.display())
        })
    }

    /// Exclusive, waiting without a word: for locks held only for a few
    /// file operations (the container-name table).
    pub fn exclusive_quiet(path: &Path) -> Result<Lock> {
        acquire(path, false, &mut |_| {})
    }

    /// The exclusive lock if nobody holds the file, else None at once.
    pub fn try_exclusive(path: &Path) -> Result<Option<Lock>> {
        Lock::try_exclusive_on(open(path)?, path)
    }

    /// Exclusive on a file or directory already open (`path` names it in
    /// errors), waiting without a word.
    pub fn exclusive_on(f: File, path: &Path) -> Result<Lock> {
        block(f, FlockArg::LockExclusive, path)
    }

    /// [`Lock::try_exclusive`] on a file or directory already open.
    pub fn try_exclusive_on(f: File, path: &Path) -> Result<Option<Lock>> {
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(l) => Ok(Some(Lock { _f: l })),
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(e).with_context(|| format!("locking {}", path.display())),
        }
    }
}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("opening lock file {}", path.display()))
}

/// Try without blocking; when that fails, call `waiting` and block.
fn acquire(path: &Path, shared: bool, waiting: &mut dyn FnMut(&Path)) -> Result<Lock> {
    let (nb, block_arg) = if shared {
        (FlockArg::LockSharedNonblock, FlockArg::LockShared)
    } else {
        (FlockArg::LockExclusiveNonblock, FlockArg::LockExclusive)
    };
    let f = open(path)?;
    let f = match Flock::lock(f, nb) {
        Ok(l) => return Ok(Lock { _f: l }),
        Err((f, Errno::EWOULDBLOCK)) => f,
        Err((_, e)) => return Err(e).with_context(|| format!("locking {}", path.display())),
    };
    waiting(path);
    block(f, block_arg, path)
}

/// Block until `arg` is granted (again after a signal).
fn block(mut f: File, arg: FlockArg, path: &Path) -> Result<Lock> {
    loop {
        match Flock::lock(f, arg) {
            Ok(l) => return Ok(Lock { _f: l }),
            Err((back, Errno::EINTR)) => f = back,
            Err((_, e)) => return Err(e).with_context(|| format!("locking {}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn contention_says_it_waits_then_gets_the_lock() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        let held = Lock::exclusive(&p).unwrap();
        let p2 = p.clone();
        let t = std::thread::spawn(move || {
            let mut said = Vec::new();
            let start = Instant::now();
            let l = acquire(&p2, false, &mut |p| {
                said.push(format!("waiting for lock on {}", p.display()))
            })
            .unwrap();
            drop(l);
            (said, start.elapsed())
        });
        std::thread::sleep(Duration::from_millis(200));
        drop(held);
        let (said, waited) = t.join().unwrap();
        assert_eq!(said, vec![format!("waiting for lock on {}", p.display())]);
        assert!(waited >= Duration::from_millis(150), "{waited:?}");
    }

    #[test]
    fn no_message_without_contention_and_shared_locks_coexist() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        let mut said = 0;
        let a = acquire(&p, true, &mut |_| said += 1).unwrap();
        let b = acquire(&p, true, &mut |_| said += 1).unwrap();
        assert_eq!(said, 0);
        assert!(Lock::try_exclusive(&p).unwrap().is_none());
        drop((a, b));
        assert!(Lock::try_exclusive(&p).unwrap().is_some());
    }
}
