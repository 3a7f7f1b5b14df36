//! The build context: `.containerignore`/`.dockerignore` with Docker's
//! pattern rules, COPY/ADD sources resolved inside a root (the context
//! directory, or another stage's mounted file system) through
//! `sys::inroot`, never with plain paths, the cache key of a source set,
//! and the layer tar a COPY makes.

use crate::storage::{ImageRecord, Store};
use crate::sys::inroot;
use anyhow::{bail, Context, Result};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Ignore patterns, Docker's rules: relative to the context, `*`, `?`,
/// `[…]`, `**` for any number of directories, `!` for an exception, the
/// last matching line wins, and a pattern that matches a directory
/// matches everything below it.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    pats: Vec<(bool, Vec<String>)>,
}

impl Ignore {
    pub fn parse(text: &str) -> Ignore {
        let mut pats = Vec::new();
        for line in text.lines() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let (neg, p) = match t.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, t),
            };
            let parts: Vec<String> = inroot::clean(Path::new(p))
                .into_iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            if !parts.is_empty() {
                pats.push((neg, parts));
            }
        }
        Ignore { pats }
    }

    /// Whether the context-relative path `rel` is left out.
    pub fn excluded(&self, rel: &Path) -> bool {
        let parts: Vec<String> = rel
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        if parts.is_empty() {
            return false;
        }
        let mut out = false;
        for (neg, p) in &self.pats {
            // The path itself, or one of its parent directories.
            let hit = (1..=parts.len()).any(|n| match_parts(p, &parts[..n]));
            if hit {
                out = !neg;
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.pats.is_empty()
    }

    /// Whether any line is an exception (`!pattern`).
    pub fn has_exceptions(&self) -> bool {
        self.pats.iter().any(|(neg, _)| *neg)
    }
}

fn match_parts(p: &[String], s: &[String]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((first, rest)) if first == "**" => (0..=s.len()).any(|k| match_parts(rest, &s[k..])),
        Some((first, rest)) => match s.split_first() {
            Some((h, t)) => glob(first.as_bytes(), h.as_bytes()) && match_parts(rest, t),
            None => false,
        },
    }
}

/// One path component against a pattern with `*`, `?`, `[…]` and `\`.
pub fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len()).any(|k| glob(&p[1..], &s[k..])),
        Some(b'?') => !s.is_empty() && glob(&p[1..], &s[1..]),
        Some(b'[') => {
            let Some(end) = p.iter().skip(1).position(|&c| c == b']').map(|x| x + 1) else {
                return !s.is_empty() && s[0] == b'[' && glob(&p[1..], &s[1..]);
            };
            let Some(&c) = s.first() else { return false };
            let mut set = &p[1..end];
            let neg = matches!(set.first(), Some(b'^' | b'!'));
            if neg {
                set = &set[1..];
            }
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            hit != neg && glob(&p[end + 1..], &s[1..])
        }
        Some(b'\\') if p.len() > 1 => !s.is_empty() && s[0] == p[1] && glob(&p[2..], &s[1..]),
        Some(&c) => !s.is_empty() && s[0] == c && glob(&p[1..], &s[1..]),
    }
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The ignore file of a context: `ignorefile`, else `.containerignore`,
/// else `.dockerignore` (read inside the context root).
pub fn load_ignore(ctx: BorrowedFd<'_>, ignorefile: Option<&Path>) -> Result<Ignore> {
    if let Some(f) = ignorefile {
        let t = std::fs::read_to_string(f)
            .with_context(|| format!("reading ignore file {}", f.display()))?;
        return Ok(Ignore::parse(&t));
    }
    for name in [".containerignore", ".dockerignore"] {
        if let Ok(fd) = inroot::open(ctx, Path::new(name), true) {
            let mut t = String::new();
            std::fs::File::open(proc_path(fd.as_fd()))
                .and_then(|mut f| f.read_to_string(&mut t))
                .with_context(|| format!("reading {name}"))?;
            return Ok(Ignore::parse(&t));
        }
    }
    Ok(Ignore::default())
}

fn proc_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// What a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink,
}

/// One entry to copy.
#[derive(Debug)]
struct Entry {
    /// Where it is, relative to the source root.
    rel: PathBuf,
    /// Where it goes in the image (relative to /).
    dest: PathBuf,
    kind: Kind,
    st: nix::sys::stat::FileStat,
    target: Option<OsString>,
}

/// The sources of one COPY/ADD, resolved and listed.
pub struct Sources {
    entries: Vec<Entry>,
    /// The directories to create on the way to the destination.
    parents: Vec<PathBuf>,
    /// Archives ADD unpacks: (source, destination dir).
    archives: Vec<(PathBuf, PathBuf)>,
    /// Whether a single source was a file (history: `file:`, else `dir:`).
    pub single_file: bool,
    /// Whether the ignore file left out anything below a source directory.
    pub excluded_any: bool,
}

/// How the sources' contents enter a COPY's content key.
pub enum Contents<'a> {
    /// Read (or found by stat in the remembered hashes, if given).
    Read(Option<&'a mut crate::build::cache::FileHashes>),
    /// Sizes only: the content is fixed by where it comes from.
    Metadata,
}

/// The sha256 of a source file's content: remembered by its stamp, else
/// read (and remembered if its stamp held still while it was read).
fn hash_file(
    root: BorrowedFd<'_>,
    rel: &Path,
    st: &nix::sys::stat::FileStat,
    memo: Option<&mut crate::build::cache::FileHashes>,
) -> Result<[u8; 32]> {
    use crate::build::cache::FileStamp;
    let mut memo = memo;
    if let Some(m) = memo.as_deref_mut() {
        if let Some(h) = m.get(&FileStamp::of(st)) {
            return Ok(h);
        }
    }
    let fd =
        inroot::open(root, rel, false).with_context(|| format!("opening {}", rel.display()))?;
    let now = inroot::fstat(fd.as_fd())?;
    if FileStamp::of(&now) != FileStamp::of(st) {
        // Replaced since it was listed: hash it, remember nothing.
        return hash_open(fd.as_fd(), rel, &now, None);
    }
    hash_open(fd.as_fd(), rel, st, memo)
}

fn hash_open(
    fd: BorrowedFd<'_>,
    rel: &Path,
    st: &nix::sys::stat::FileStat,
    memo: Option<&mut crate::build::cache::FileHashes>,
) -> Result<[u8; 32]> {
    use crate::build::cache::FileStamp;
    let stamp = FileStamp::of(st);
    if let Some(m) = memo {
        if let Some(h) = m.get(&stamp) {
            return Ok(h);
        }
        let started = crate::time::now_ns() / 1_000_000_000;
        let h = read_hash(fd, rel)?;
        if FileStamp::of(&inroot::fstat(fd)?) == stamp {
            m.put(&stamp, h, started);
        }
        return Ok(h);
    }
    read_hash(fd, rel)
}

fn read_hash(fd: BorrowedFd<'_>, rel: &Path) -> Result<[u8; 32]> {
    let mut f =
        std::fs::File::open(proc_path(fd)).with_context(|| format!("reading {}", rel.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", rel.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

/// How the sources are copied.
#[derive(Debug, Clone, Default)]
pub struct CopyOpts {
    /// `--chown` resolved; None: root for the context, kept for `--from`.
    pub chown: Option<(u32, u32)>,
    pub chmod: Option<u32>,
    /// Sources from the context (ignore file applies, owner 0:0).
    pub from_context: bool,
    /// ADD: unpack local archives.
    pub add: bool,
}

/// Resolve `srcs` (as written, expanded) inside `root` for destination
/// `dest` (absolute, as written: a trailing `/` means a directory).
/// `dest_is_dir`: whether the destination exists as a directory in the
/// image; `exists`: whether a path exists there (parents to create).
pub fn resolve(
    root: BorrowedFd<'_>,
    srcs: &[String],
    dest: &str,
    ignore: Option<&Ignore>,
    o: &CopyOpts,
    exists: &dyn Fn(&Path) -> Option<bool>,
    what: &str,
) -> Result<Sources> {
    let dest_path = PathBuf::from(dest);
    let dest_rel: PathBuf = inroot::clean(&dest_path).into_iter().collect();
    let mut matched: Vec<PathBuf> = Vec::new();
    for s in srcs {
        let rel = inside(s).with_context(|| format!("{what} source {s:?}"))?;
        let found = if has_glob(s) {
            let m = glob_walk(root, &rel, ignore)?;
            if m.is_empty() {
                bail!("{what}: {s:?} matches no file in the build context");
            }
            m
        } else {
            vec![rel]
        };
        matched.extend(found);
    }
    let dir_dest = dest.ends_with('/')
        || dest.ends_with("/.")
        || matched.len() > 1
        || exists(&dest_rel) == Some(true);
    let mut out = Sources {
        entries: Vec::new(),
        parents: Vec::new(),
        archives: Vec::new(),
        single_file: false,
        excluded_any: false,
    };
    // Parents to create (and the destination dir itself).
    let mut need: Vec<PathBuf> = Vec::new();
    let mut p = if dir_dest {
        Some(dest_rel.as_path())
    } else {
        dest_rel.parent()
    };
    while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
        if exists(d).is_none() {
            need.push(d.to_path_buf());
        }
        p = d.parent();
    }
    need.reverse();
    out.parents = need;
    for rel in &matched {
        let shown = rel.display().to_string();
        if o.from_context && ignore.is_some_and(|i| i.excluded(rel)) {
            bail!(
                "{what} {shown}: excluded by the ignore file (.containerignore or .dockerignore)"
            );
        }
        let fd = open_source(root, rel).with_context(|| format!("{what} {shown}"))?;
        let st = inroot::fstat(fd.as_fd())?;
        let kind = kind_of(&st);
        match kind {
            Some(Kind::Dir) => {
                // A directory's contents go to the destination.
                walk(
                    root,
                    rel,
                    &dest_rel,
                    ignore.filter(|_| o.from_context),
                    &mut out.entries,
                    &mut out.excluded_any,
                )?;
            }
            Some(Kind::File) => {
                let to = if dir_dest {
                    dest_rel.join(rel.file_name().unwrap_or_default())
                } else {
                    dest_rel.clone()
                };
                if o.add && is_archive(fd.as_fd())? {
                    out.archives.push((rel.clone(), dest_rel.clone()));
                    continue;
                }
                out.single_file = matched.len() == 1;
                out.entries.push(Entry {
                    rel: rel.clone(),
                    dest: to,
                    kind: Kind::File,
                    st,
                    target: None,
                });
            }
            _ => bail!("{what} {shown}: not a regular file or directory"),
        }
    }
    // One tar entry per path, as podman requires of a layer ("duplicates
    // of file paths not supported"): a copied directory's own entry is
    // its destination, not a parent to create too, and a later source
    // replaces an earlier one at the same path, as Docker's COPY does
    // (a directory keeps its first entry).
    out.parents
        .retain(|p| !out.entries.iter().any(|e| e.dest == *p));
    let mut last: HashMap<&Path, usize> = HashMap::new();
    for (i, e) in out.entries.iter().enumerate() {
        if e.kind == Kind::Dir {
            // The first: a directory's entry comes before what is in it.
            last.entry(e.dest.as_path()).or_insert(i);
        } else {
            last.insert(e.dest.as_path(), i);
        }
    }
    if last.len() < out.entries.len() {
        let keep: std::collections::HashSet<usize> = last.into_values().collect();
        let mut i = 0;
        out.entries.retain(|_| {
            i += 1;
            keep.contains(&(i - 1))
        });
    }
    Ok(out)
}

/// The source path relative to its root; `..` out of it is refused.
fn inside(s: &str) -> Result<PathBuf> {
    let mut out: Vec<OsString> = Vec::new();
    for c in Path::new(s).components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::ParentDir => {
                out.pop()
                    .with_context(|| format!("{s} is outside the build context: refused"))?;
            }
            _ => {}
        }
    }
    Ok(out.into_iter().collect())
}

/// Open a source, following a symlink only when its target stays inside.
fn open_source(root: BorrowedFd<'_>, rel: &Path) -> Result<OwnedFd> {
    let mut cur = rel.to_path_buf();
    for _ in 0..40 {
        let fd = inroot::open(root, &cur, false).map_err(|e| match e {
            nix::errno::Errno::ENOENT => {
                anyhow::anyhow!("no such file or directory in the build context")
            }
            e => anyhow::Error::new(e),
        })?;
        let st = inroot::fstat(fd.as_fd())?;
        if kind_of(&st) != Some(Kind::Symlink) {
            return Ok(fd);
        }
        let target = nix::fcntl::readlinkat(Some(fd.as_raw_fd()), "")?;
        let t = Path::new(&target);
        if t.is_absolute() {
            bail!(
                "a symlink to {} points outside the build context",
                t.display()
            );
        }
        let joined = cur.parent().unwrap_or(Path::new("")).join(t);
        cur = inside(&joined.to_string_lossy()).map_err(|_| {
            anyhow::anyhow!(
                "a symlink to {} points outside the build context",
                t.display()
            )
        })?;
    }
    bail!("too many levels of symbolic links")
}

fn kind_of(st: &nix::sys::stat::FileStat) -> Option<Kind> {
    use nix::sys::stat::SFlag;
    match inroot::kind(st) {
        SFlag::S_IFREG => Some(Kind::File),
        SFlag::S_IFDIR => Some(Kind::Dir),
        SFlag::S_IFLNK => Some(Kind::Symlink),
        _ => None,
    }
}

fn list_dir(root: BorrowedFd<'_>, rel: &Path) -> Result<Vec<OsString>> {
    let fd = inroot::open(root, rel, false)?;
    let dir = nix::dir::Dir::openat(
        Some(fd.as_raw_fd()),
        ".",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("reading directory {}", rel.display()))?;
    let mut names: Vec<OsString> = Vec::new();
    let mut dir = dir;
    for e in dir.iter() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n == b"." || n == b".." {
            continue;
        }
        names.push(std::ffi::OsStr::from_bytes(n).to_os_string());
    }
    names.sort();
    Ok(names)
}

/// The paths under `root` that the glob `pat` matches.
fn glob_walk(root: BorrowedFd<'_>, pat: &Path, ignore: Option<&Ignore>) -> Result<Vec<PathBuf>> {
    let parts: Vec<String> = pat
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let mut cur = vec![PathBuf::new()];
    for (i, part) in parts.iter().enumerate() {
        let mut next = Vec::new();
        for base in &cur {
            if !has_glob(part) {
                next.push(base.join(part));
                continue;
            }
            let Ok(names) = list_dir(root, base) else {
                continue;
            };
            for n in names {
                if glob(part.as_bytes(), n.as_bytes()) {
                    let p = base.join(&n);
                    if ignore.is_some_and(|ig| ig.excluded(&p)) {
                        continue;
                    }
                    next.push(p);
                }
            }
        }
        if i + 1 < parts.len() {
            next.retain(|p| {
                inroot::open(root, p, true)
                    .ok()
                    .and_then(|fd| inroot::fstat(fd.as_fd()).ok())
                    .is_some_and(|st| kind_of(&st) == Some(Kind::Dir))
            });
        }
        cur = next;
    }
    cur.retain(|p| inroot::open(root, p, false).is_ok());
    Ok(cur)
}

/// The tree under `rel` (not the directory itself, which becomes `to`).
fn walk(
    root: BorrowedFd<'_>,
    rel: &Path,
    to: &Path,
    ignore: Option<&Ignore>,
    out: &mut Vec<Entry>,
    excluded_any: &mut bool,
) -> Result<()> {
    let fd = inroot::open(root, rel, true)?;
    let st = inroot::fstat(fd.as_fd())?;
    if !to.as_os_str().is_empty() {
        out.push(Entry {
            rel: rel.to_path_buf(),
            dest: to.to_path_buf(),
            kind: Kind::Dir,
            st,
            target: None,
        });
    }
    for n in list_dir(root, rel)? {
        let r = rel.join(&n);
        let excluded = ignore.is_some_and(|ig| ig.excluded(&r));
        *excluded_any |= excluded;
        if excluded && !ignore.is_some_and(|ig| ig.has_exceptions()) {
            continue;
        }
        let fd = inroot::open(root, &r, false)?;
        let st = inroot::fstat(fd.as_fd())?;
        if excluded && kind_of(&st) != Some(Kind::Dir) {
            continue;
        }
        match kind_of(&st) {
            Some(Kind::Dir) if excluded => {
                // An exception (`!dir/keep`) may bring back what is below.
                let mut below = Vec::new();
                walk(root, &r, &to.join(&n), ignore, &mut below, excluded_any)?;
                if below.len() > 1 {
                    out.extend(below);
                }
            }
            Some(Kind::Dir) => walk(root, &r, &to.join(&n), ignore, out, excluded_any)?,
            Some(Kind::Symlink) => {
                let t = nix::fcntl::readlinkat(Some(fd.as_raw_fd()), "")?;
                out.push(Entry {
                    rel: r,
                    dest: to.join(&n),
                    kind: Kind::Symlink,
                    st,
                    target: Some(t),
                })
            }
            Some(Kind::File) => out.push(Entry {
                rel: r,
                dest: to.join(&n),
                kind: Kind::File,
                st,
                target: None,
            }),
            // Sockets, fifos and devices are not copied.
            None => {}
        }
    }
    Ok(())
}

fn is_archive(fd: BorrowedFd<'_>) -> Result<bool> {
    let mut f = std::fs::File::open(proc_path(fd))?;
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        let k = f.read(&mut head[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    let h = &head[..n];
    Ok(h.starts_with(&[0x1f, 0x8b])
        || h.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || (n >= 262 && &h[257..262] == b"ustar"))
}

impl CopyOpts {
    /// The owner an entry gets in the layer.
    fn owner(&self, st: &nix::sys::stat::FileStat) -> (u32, u32) {
        match (self.chown, self.from_context) {
            (Some(c), _) => c,
            (None, true) => (0, 0),
            (None, false) => (st.st_uid, st.st_gid),
        }
    }

    /// The mode an entry gets in the layer.
    fn mode(&self, st: &nix::sys::stat::FileStat, kind: Kind) -> u32 {
        match (self.chmod, kind) {
            (Some(m), Kind::File | Kind::Dir) => m,
            _ => st.st_mode & 0o7777,
        }
    }
}

impl Sources {
    /// The content key of what would be copied, as buildah's digest of a
    /// COPY: names, types, modes, owners, link targets and the files'
    /// contents, never their times (a touched file is the same, a
    /// rewritten one keeping its size and mtime is not). `hashes`: the
    /// remembered content hashes of context files (Contents::Read), or
    /// Contents::Metadata for sources whose content is fixed by what they
    /// come from (an image's files: its id is in the step's key).
    pub fn content_key(
        &self,
        root: BorrowedFd<'_>,
        o: &CopyOpts,
        contents: Contents<'_>,
    ) -> Result<String> {
        let mut hashes = contents;
        let mut h = Sha256::new();
        h.update(b"rpod-copy-v2\0");
        for p in &self.parents {
            h.update(b"P");
            h.update(p.as_os_str().as_bytes());
            h.update(format!("\0{:?}\n", o.chown).as_bytes());
        }
        let mut links: HashMap<(u64, u64), &Path> = HashMap::new();
        for e in &self.entries {
            let (u, g) = o.owner(&e.st);
            let mode = o.mode(&e.st, e.kind);
            h.update(e.dest.as_os_str().as_bytes());
            h.update(format!("\0{:?} {mode:o} {u}:{g}\0", e.kind).as_bytes());
            match e.kind {
                Kind::Dir => {}
                Kind::Symlink => h.update(e.target.as_deref().unwrap_or_default().as_bytes()),
                Kind::File => {
                    let key = (e.st.st_dev, e.st.st_ino);
                    if e.st.st_nlink > 1 {
                        if let Some(first) = links.get(&key) {
                            h.update(b"L");
                            h.update(first.as_os_str().as_bytes());
                            h.update(b"\n");
                            continue;
                        }
                        links.insert(key, &e.dest);
                    }
                    match &mut hashes {
                        Contents::Metadata => h.update(format!("{}", e.st.st_size).as_bytes()),
                        Contents::Read(memo) => {
                            let fh = hash_file(root, &e.rel, &e.st, memo.as_deref_mut())?;
                            h.update(fh);
                        }
                    }
                }
            }
            h.update(b"\n");
        }
        for (s, d) in &self.archives {
            h.update(b"A");
            h.update(d.as_os_str().as_bytes());
            h.update(format!("\0{:?}\0", o.chown).as_bytes());
            let fd = open_source(root, s).with_context(|| format!("{}", s.display()))?;
            let st = inroot::fstat(fd.as_fd())?;
            match &mut hashes {
                Contents::Metadata => h.update(format!("{}", st.st_size).as_bytes()),
                Contents::Read(memo) => {
                    h.update(hash_open(fd.as_fd(), s, &st, memo.as_deref_mut())?);
                }
            }
            h.update(b"\n");
        }
        Ok(hex::encode(h.finalize()))
    }

    /// Write the layer tar.
    pub fn write_tar(&self, root: BorrowedFd<'_>, o: &CopyOpts, out: &mut dyn Write) -> Result<()> {
        let mut b = tar::Builder::new(out);
        b.mode(tar::HeaderMode::Complete);
        let owner = |st: &nix::sys::stat::FileStat| o.owner(st);
        for p in &self.parents {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            let (u, g) = o.chown.unwrap_or((0, 0));
            h.set_uid(u.into());
            h.set_gid(g.into());
            h.set_mtime(0);
            h.set_size(0);
            b.append_data(&mut h, p, std::io::empty())?;
        }
        let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
        for e in &self.entries {
            let mut h = tar::Header::new_gnu();
            let (u, g) = owner(&e.st);
            h.set_uid(u.into());
            h.set_gid(g.into());
            h.set_mtime(e.st.st_mtime.max(0) as u64);
            h.set_mode(o.mode(&e.st, e.kind));
            match e.kind {
                Kind::Dir => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    b.append_data(&mut h, &e.dest, std::io::empty())?;
                }
                Kind::Symlink => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    let t = e.target.clone().unwrap_or_default();
                    b.append_link(&mut h, &e.dest, Path::new(&t))?;
                }
                Kind::File => {
                    let key = (e.st.st_dev, e.st.st_ino);
                    if e.st.st_nlink > 1 {
                        if let Some(first) = links.get(&key) {
                            h.set_entry_type(tar::EntryType::Link);
                            h.set_size(0);
                            b.append_link(&mut h, &e.dest, first)?;
                            continue;
                        }
                        links.insert(key, e.dest.clone());
                    }
                    let fd = inroot::open(root, &e.rel, false)
                        .with_context(|| format!("opening {}", e.rel.display()))?;
                    let f = std::fs::File::open(proc_path(fd.as_fd()))
                        .with_context(|| format!("reading {}", e.rel.display()))?;
                    let size = f.metadata()?.len();
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(size);
                    b.append_data(&mut h, &e.dest, f.take(size))
                        .with_context(|| format!("copying {}", e.rel.display()))?;
                }
            }
        }
        for (src, dest) in &self.archives {
            let fd = open_source(root, src)?;
            let f = std::fs::File::open(proc_path(fd.as_fd()))?;
            let mut head = [0u8; 4];
            let n = (&f).read(&mut head)?;
            let f = std::fs::File::open(proc_path(fd.as_fd()))?;
            let r: Box<dyn Read> = if n >= 2 && head[..2] == [0x1f, 0x8b] {
                Box::new(flate2::read::MultiGzDecoder::new(f))
            } else if n == 4 && head == [0x28, 0xb5, 0x2f, 0xfd] {
                Box::new(zstd::Decoder::new(f)?)
            } else {
                Box::new(f)
            };
            let mut a = tar::Archive::new(r);
            for ent in a
                .entries()
                .with_context(|| format!("reading archive {}", src.display()))?
            {
                let mut ent = ent?;
                let p = ent.path()?.into_owned();
                let Ok(rel) = inside(&p.to_string_lossy()) else {
                    bail!(
                        "archive {}: entry {} points outside its destination",
                        src.display(),
                        p.display()
                    );
                };
                let mut h = ent.header().clone();
                let to = dest.join(&rel);
                if let Some(c) = o.chown {
                    h.set_uid(c.0.into());
                    h.set_gid(c.1.into());
                }
                match h.entry_type() {
                    tar::EntryType::Symlink => {
                        let t = ent.link_name()?.unwrap_or_default().into_owned();
                        b.append_link(&mut h, &to, &t)?;
                    }
                    tar::EntryType::Link => {
                        let t = ent.link_name()?.unwrap_or_default().into_owned();
                        let t = dest.join(inside(&t.to_string_lossy())?);
                        b.append_link(&mut h, &to, &t)?;
                    }
                    tar::EntryType::Regular
                    | tar::EntryType::Directory
                    | tar::EntryType::Continuous => {
                        let size = h.size()?;
                        b.append_data(&mut h, &to, (&mut ent).take(size))?;
                    }
                    // pax/GNU headers are consumed by the reader; devices
                    // and fifos are not unpacked rootless.
                    _ => {}
                }
            }
        }
        b.into_inner()?.flush()?;
        Ok(())
    }
}

/// Whether `rel` exists in `image` (Some(is a directory)), looked up in its
/// layer dirs from the top through `inroot` (a whiteout hides it).
pub fn exists_in_image(store: &Store, image: Option<&ImageRecord>, rel: &Path) -> Option<bool> {
    let image = image?;
    for l in image.layers.iter().rev() {
        let dir = store.layer_dir(&l.chain_id);
        let Ok(root) = inroot::open_root(&dir) else {
            continue;
        };
        let Ok(fd) = inroot::open(root.as_fd(), rel, true) else {
            continue;
        };
        let Ok(st) = inroot::fstat(fd.as_fd()) else {
            continue;
        };
        if inroot::kind(&st) == nix::sys::stat::SFlag::S_IFCHR && st.st_rdev == 0 {
            return None;
        }
        return Some(kind_of(&st) == Some(Kind::Dir));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_patterns_follow_dockers_rules() {
        let i = Ignore::parse("# c\n*.log\n!keep.log\nbuild/\n**/tmp\n/secret\ndocs/*.md\n");
        let x = |p: &str| i.excluded(Path::new(p));
        assert!(x("a.log"));
        assert!(!x("keep.log"));
        assert!(!x("sub/a.log"));
        assert!(x("build/x/y"));
        assert!(x("a/b/tmp/z"));
        assert!(x("tmp"));
        assert!(x("secret"));
        assert!(x("docs/r.md"));
        assert!(!x("docs/sub/r.md"));
        assert!(!x("src/main.rs"));
        assert!(glob(b"[a-c]x?", b"bxz"));
        assert!(!glob(b"[!a-c]x", b"bx"));
    }

    #[test]
    fn sources_stay_inside() {
        assert_eq!(inside("a/../b/./c").unwrap(), PathBuf::from("b/c"));
        assert_eq!(inside("/abs/x").unwrap(), PathBuf::from("abs/x"));
        assert!(inside("../x").is_err());
        assert!(inside("a/../../x").is_err());
    }
}
