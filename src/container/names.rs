//! Container names: generated adjective_noun names, validation, and the
//! name index (`root/container-names/NAME` holding the id), claimed under an
//! exclusive lock so that two `--name x` at once cannot both win.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::path::{Path, PathBuf};

const ADJECTIVES: &[&str] = &[
    "admiring",
    "adoring",
    "affectionate",
    "agitated",
    "amazing",
    "angry",
    "awesome",
    "beautiful",
    "blissful",
    "bold",
    "boring",
    "brave",
    "busy",
    "charming",
    "clever",
    "compassionate",
    "competent",
    "condescending",
    "confident",
    "cool",
    "cranky",
    "crazy",
    "dazzling",
    "determined",
    "distracted",
    "dreamy",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "eloquent",
    "epic",
    "exciting",
    "fervent",
    "festive",
    "flamboyant",
    "focused",
    "friendly",
    "frosty",
    "funny",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "great",
    "happy",
    "hardcore",
    "heuristic",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "intelligent",
    "interesting",
    "jolly",
    "jovial",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "mystifying",
    "naughty",
    "nervous",
    "nice",
    "nifty",
    "nostalgic",
    "objective",
    "optimistic",
    "peaceful",
    "pedantic",
    "pensive",
    "practical",
    "priceless",
    "quirky",
    "quizzical",
    "recursing",
    "relaxed",
    "reverent",
    "romantic",
    "sad",
    "serene",
    "sharp",
    "silly",
    "sleepy",
    "stoic",
    "strange",
    "stupefied",
    "suspicious",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "unruffled",
    "upbeat",
    "vibrant",
    "vigilant",
    "vigorous",
    "wizardly",
    "wonderful",
    "xenodochial",
    "youthful",
    "zealous",
    "zen",
];

const NOUNS: &[&str] = &[
    "agnesi",
    "albattani",
    "allen",
    "almeida",
    "archimedes",
    "ardinghelli",
    "aryabhata",
    "babbage",
    "banach",
    "bardeen",
    "bartik",
    "bassi",
    "bell",
    "bhabha",
    "blackburn",
    "bohr",
    "booth",
    "borg",
    "bose",
    "brahmagupta",
    "brattain",
    "brown",
    "carson",
    "cerf",
    "chandrasekhar",
    "clarke",
    "curie",
    "darwin",
    "davinci",
    "dijkstra",
    "dubinsky",
    "easley",
    "einstein",
    "elion",
    "engelbart",
    "euclid",
    "euler",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gates",
    "goldberg",
    "goldstine",
    "goodall",
    "hamilton",
    "hawking",
    "heisenberg",
    "hermann",
    "hodgkin",
    "hoover",
    "hopper",
    "hypatia",
    "jackson",
    "jang",
    "jennings",
    "johnson",
    "kalam",
    "kapitsa",
    "keller",
    "kepler",
    "khorana",
    "kilby",
    "knuth",
    "kowalevski",
    "lalande",
    "lamarr",
    "lamport",
    "leakey",
    "leavitt",
    "lichterman",
    "liskov",
    "lovelace",
    "lumiere",
    "mahavira",
    "mayer",
    "mccarthy",
    "mcclintock",
    "meitner",
    "mendel",
    "merkle",
    "minsky",
    "mirzakhani",
    "montalcini",
    "morse",
    "napier",
    "nash",
    "newton",
    "nobel",
    "noether",
    "noyce",
    "pare",
    "pascal",
    "pasteur",
    "payne",
    "perlman",
    "pike",
    "poincare",
    "ptolemy",
    "raman",
    "ramanujan",
    "ride",
    "ritchie",
    "robinson",
    "rosalind",
    "sammet",
    "shannon",
    "shaw",
    "shockley",
    "sinoussi",
    "snyder",
    "spence",
    "stonebraker",
    "swanson",
    "swartz",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "varahamihira",
    "villani",
    "wescoff",
    "wiles",
    "williams",
    "wilson",
    "wing",
    "wozniak",
    "wright",
    "yalow",
    "yonath",
];

/// Random bytes from the kernel.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use std::io::Read;
    let mut b = [0u8; N];
    if let Ok(mut f) = File::open("/dev/urandom") {
        if f.read_exact(&mut b).is_ok() {
            return b;
        }
    }
    // Without /dev/urandom, mix the clock and pid: ids only need to be unique.
    let seed = super::time::now_ns() as u64 ^ ((std::process::id() as u64) << 32);
    for (i, x) in b.iter_mut().enumerate() {
        *x = (seed.rotate_left((i * 7) as u32) >> (i % 8)) as u8 ^ i as u8;
    }
    b
}

/// A new container id: 64 hex digits.
pub fn new_id() -> String {
    hex::encode(random_bytes::<32>())
}

/// A generated name like podman's (`adoring_turing`).
pub fn generate() -> String {
    let r = random_bytes::<4>();
    let a = u16::from_le_bytes([r[0], r[1]]) as usize % ADJECTIVES.len();
    let n = u16::from_le_bytes([r[2], r[3]]) as usize % NOUNS.len();
    format!("{}_{}", ADJECTIVES[a], NOUNS[n])
}

/// podman's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn validate(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && name.len() <= 253;
    if !ok {
        bail!("invalid container name {name:?}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*");
    }
    Ok(())
}

/// The name index directory.
pub struct Names {
    dir: PathBuf,
}

/// Why a name could not be claimed.
pub enum Claim {
    Ok,
    /// Held by this container id.
    Taken(String),
}

impl Names {
    pub fn new(root: &Path) -> Names {
        Names {
            dir: root.join("container-names"),
        }
    }

    fn lock(&self) -> Result<crate::storage::Lock> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        crate::storage::Lock::exclusive_quiet(&self.dir.join(".lock"))
    }

    /// The id holding `name`, if any.
    pub fn lookup(&self, name: &str) -> Option<String> {
        if validate(name).is_err() {
            return None;
        }
        let id = std::fs::read_to_string(self.dir.join(name)).ok()?;
        let id = id.trim();
        (!id.is_empty()).then(|| id.to_string())
    }

    /// Claim `name` for `id`. `alive(id)` says whether a holder still exists:
    /// an entry left by a crash between removing a container and its name is
    /// taken over.
    pub fn claim(&self, name: &str, id: &str, alive: impl Fn(&str) -> bool) -> Result<Claim> {
        validate(name)?;
        let _l = self.lock()?;
        let p = self.dir.join(name);
        if let Some(holder) = self.lookup(name) {
            if holder != id && alive(&holder) {
                return Ok(Claim::Taken(holder));
            }
        }
        std::fs::write(&p, id).with_context(|| format!("writing {}", p.display()))?;
        Ok(Claim::Ok)
    }

    /// Release `name` if `id` holds it.
    pub fn release(&self, name: &str, id: &str) -> Result<()> {
        let _l = self.lock()?;
        if self.lookup(name).as_deref() == Some(id) {
            let p = self.dir.join(name);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", p.display())),
            }
        }
        Ok(())
    }
}

/// podman's message for a name in use.
pub fn in_use_error(name: &str, id: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the container name \"{name}\" is already in use by {id}. You have to remove that container \
         to be able to reuse that name: that name is already in use"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        let id = new_id();
        assert_eq!(id.len(), 64);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(id, new_id());
        let n = generate();
        validate(&n).unwrap();
        assert!(n.contains('_'));
        assert!(validate("-x").is_err());
        assert!(validate("a/b").is_err());
        assert!(validate("").is_err());
        validate("web.1_a-b").unwrap();
    }

    #[test]
    fn one_claim_wins() {
        let d = tempfile::tempdir().unwrap();
        let names = Names::new(d.path());
        assert!(matches!(
            names.claim("x", "a1", |_| true).unwrap(),
            Claim::Ok
        ));
        match names.claim("x", "b2", |_| true).unwrap() {
            Claim::Taken(h) => assert_eq!(h, "a1"),
            Claim::Ok => panic!("claimed twice"),
        }
        // A holder that no longer exists is taken over.
        assert!(matches!(
            names.claim("x", "b2", |_| false).unwrap(),
            Claim::Ok
        ));
        assert_eq!(names.lookup("x").as_deref(), Some("b2"));
        names.release("x", "a1").unwrap();
        assert_eq!(names.lookup("x").as_deref(), Some("b2"));
        names.release("x", "b2").unwrap();
        assert_eq!(names.lookup("x"), None);
    }

    #[test]
    fn concurrent_claims_have_one_winner() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().to_path_buf();
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let root = root.clone();
                std::thread::spawn(move || {
                    matches!(
                        Names::new(&root)
                            .claim("same", &format!("id{i}"), |_| true)
                            .unwrap(),
                        Claim::Ok
                    )
                })
            })
            .collect();
        let wins = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|w| *w)
            .count();
        assert_eq!(wins, 1);
    }
}
