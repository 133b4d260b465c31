//! Visitor identity: per-day secret salts (created, loaded, expired with the diagnostics of
//! their day) and the keyed visitor hash fed to the HLL sketches. Owns the only copies of the
//! salts; never writes an identity, and writes salts only under `state/salts/` through the store.
//!
//! A visitor is SipHash-1-3-128 of (client address, BLAKE3 digest of the user agent) keyed by
//! the salt of the request's day. Once the salt is deleted, nobody can recompute an identity
//! and test whether an address is in a sketch.

use std::hash::Hasher as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use datasketches::hash::value::raw_bytes;
use datasketches::hll::Coupon;
use rustc_hash::FxHashMap;
use siphasher::sip128::{Hasher128, SipHasher13};

use crate::error::{Error, Result};
use crate::parse::time::date_string;
use crate::store;

/// Bytes of secret a `--salt-file` must hold at least.
pub const MIN_SALT_FILE_BYTES: usize = 16;
const SALT_MAGIC: &[u8; 8] = b"LVSALT1\n";
const SALT_LEN: usize = 32;
const DERIVE_CONTEXT: &str = "logveil 2026 per-day visitor salt from a shared secret";

/// Where a day's salt comes from.
#[derive(Debug)]
enum Source {
    /// Random, one per day, kept in `dir` until the day's diagnostics expire.
    Random { dir: PathBuf },
    /// Derived from an operator's secret and the date: identical on every server sharing it.
    Shared { key: [u8; 32] },
}

/// The salts of a run. Shared by all threads; threads keep their own day → key map
/// ([`VisitorKeys`]) so the lock is taken once per thread and day, never per line.
#[derive(Debug)]
pub struct SaltBook {
    source: Source,
    retention_secs: i64,
    now: i64,
    salts: Mutex<FxHashMap<i64, [u8; 16]>>,
    error: Mutex<Option<String>>,
}

impl SaltBook {
    /// Random per-day salts under `OUT/state/salts/`, or salts derived from `salt_file`.
    pub fn open(
        out: &Path,
        salt_file: Option<&Path>,
        retention_secs: i64,
        now: i64,
    ) -> Result<SaltBook> {
        let source = match salt_file {
            Some(path) => {
                let secret = std::fs::read(path).map_err(|e| Error::input(path, e))?;
                if secret.len() < MIN_SALT_FILE_BYTES {
                    return Err(Error::Usage(format!(
                        "--salt-file {} holds {} bytes; at least {MIN_SALT_FILE_BYTES} bytes of secret are needed (for example `head -c 32 /dev/urandom > FILE`)",
                        path.display(),
                        secret.len()
                    )));
                }
                Source::Shared {
                    key: blake3::derive_key(DERIVE_CONTEXT, &secret),
                }
            }
            None => Source::Random { dir: salt_dir(out) },
        };
        Ok(SaltBook {
            source,
            retention_secs,
            now,
            salts: Mutex::new(FxHashMap::default()),
            error: Mutex::new(None),
        })
    }

    /// Whether salts are shared through a salt file (sketches of several servers merge).
    pub fn is_shared(&self) -> bool {
        matches!(self.source, Source::Shared { .. })
    }

    /// The first error met while storing a salt, if any (the run must then fail).
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The SipHash key of `day` (days since the epoch), loading or creating its salt.
    pub fn key(&self, day: i64) -> [u8; 16] {
        let mut salts = self.salts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = salts.get(&day) {
            return *k;
        }
        let salt = match &self.source {
            Source::Shared { key } => {
                *blake3::keyed_hash(key, date_string(day * 86_400).as_bytes()).as_bytes()
            }
            Source::Random { dir } => match self.random_salt(dir, day) {
                Ok(s) => s,
                Err(e) => {
                    self.error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e.to_string());
                    random_bytes()
                }
            },
        };
        let mut k = [0u8; 16];
        k.copy_from_slice(&salt[..16]);
        salts.insert(day, k);
        k
    }

    /// Loads the stored salt of `day`, or creates one. A day whose diagnostics have already
    /// expired gets a salt that lives only in memory, for this run.
    fn random_salt(&self, dir: &Path, day: i64) -> Result<[u8; SALT_LEN]> {
        let expires = day * 86_400 + self.retention_secs;
        if expires <= self.now {
            return Ok(random_bytes());
        }
        let path = salt_path(dir, day);
        if let Some((salt, stored_expiry)) = read_salt(&path)? {
            if stored_expiry < expires {
                // A longer retention keeps this day's diagnostics longer: keep the salt as long.
                store::write_file(&path, store::PRIVATE_FILE, &encode(&salt, expires))?;
            }
            return Ok(salt);
        }
        store::ensure_dir(dir.parent().unwrap_or(dir), store::PRIVATE_DIR)?;
        store::ensure_dir(dir, store::PRIVATE_DIR)?;
        let salt = random_bytes();
        store::write_file(&path, store::PRIVATE_FILE, &encode(&salt, expires))?;
        Ok(salt)
    }
}

fn random_bytes() -> [u8; SALT_LEN] {
    let mut b = [0u8; SALT_LEN];
    getrandom::fill(&mut b).expect("the operating system's random source is available");
    b
}

fn encode(salt: &[u8; SALT_LEN], expires: i64) -> Vec<u8> {
    let mut v = Vec::with_capacity(SALT_MAGIC.len() + 8 + SALT_LEN);
    v.extend_from_slice(SALT_MAGIC);
    v.extend_from_slice(&expires.to_le_bytes());
    v.extend_from_slice(salt);
    v
}

/// A stored salt and its expiry; `None` when there is none.
fn read_salt(path: &Path) -> Result<Option<([u8; SALT_LEN], i64)>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::input(path, e)),
    };
    let bad = || Error::Internal(format!("{}: not a logveil salt file", path.display()));
    if bytes.len() != SALT_MAGIC.len() + 8 + SALT_LEN || !bytes.starts_with(SALT_MAGIC) {
        return Err(bad());
    }
    let expires = i64::from_le_bytes(bytes[8..16].try_into().map_err(|_| bad())?);
    let salt: [u8; SALT_LEN] = bytes[16..].try_into().map_err(|_| bad())?;
    Ok(Some((salt, expires)))
}

/// `OUT/state/salts`.
pub fn salt_dir(out: &Path) -> PathBuf {
    out.join("state").join("salts")
}

fn salt_path(dir: &Path, day: i64) -> PathBuf {
    dir.join(format!("{}.salt", date_string(day * 86_400)))
}

/// Deletes every stored salt whose day's diagnostics have expired at `now`. Returns how many.
pub fn purge_salts(out: &Path, now: i64) -> Result<u64> {
    Ok(purge_salt_files(out, now)?.len() as u64)
}

/// Deletes every stored salt whose day's diagnostics have expired at `now`; returns their paths.
pub fn purge_salt_files(out: &Path, now: i64) -> Result<Vec<PathBuf>> {
    let dir = salt_dir(out);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    store::remove_stale_temps(&dir)?;
    let mut deleted = Vec::new();
    for salt in stored_salts(out)? {
        if salt.expires_at <= now && store::remove_file(&salt.path)? {
            deleted.push(salt.path);
        }
    }
    Ok(deleted)
}

/// A stored salt file as `audit` shows it (never its content).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredSalt {
    pub path: PathBuf,
    /// The salt's UTC day, from its name.
    pub date: String,
    /// Unix seconds after which it is deleted.
    pub expires_at: i64,
    pub bytes: u64,
}

/// Every readable salt file under `OUT/state/salts`, by day. Unreadable ones are warned about.
pub fn stored_salts(out: &Path) -> Result<Vec<StoredSalt>> {
    let dir = salt_dir(out);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut salts = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("salt") {
            continue;
        }
        match read_salt(&path) {
            Ok(Some((_, expires_at))) => salts.push(StoredSalt {
                date: path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                bytes: e.metadata().map(|m| m.len()).unwrap_or(0),
                path,
                expires_at,
            }),
            Ok(None) => {}
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    salts.sort_by(|a, b| a.date.cmp(&b.date));
    Ok(salts)
}

/// One thread's view of the salts: day → SipHash key, filled from the [`SaltBook`] once per day.
pub struct VisitorKeys<'a> {
    book: &'a SaltBook,
    last: (i64, [u8; 16]),
    keys: FxHashMap<i64, [u8; 16]>,
}

impl<'a> VisitorKeys<'a> {
    pub fn new(book: &'a SaltBook) -> Self {
        VisitorKeys {
            book,
            last: (i64::MIN, [0; 16]),
            keys: FxHashMap::default(),
        }
    }

    /// The sketch coupon of the visitor (`client`, `agent_digest`) on `day`, and 64 bits of
    /// its identity (for telling a returning visitor from a new one within the run).
    #[inline]
    pub fn coupon(
        &mut self,
        day: i64,
        client: Client<'_>,
        agent_digest: &[u8; 16],
    ) -> (Coupon, u64) {
        if self.last.0 != day {
            let book = self.book;
            let key = *self.keys.entry(day).or_insert_with(|| book.key(day));
            self.last = (day, key);
        }
        let id = visitor_id(&self.last.1, client, agent_digest);
        let short = u64::from_le_bytes(id[..8].try_into().expect("16 bytes"));
        (Coupon::from_value(raw_bytes::from_slice(&id)), short)
    }
}

/// Who made a request, as far as the log says.
#[derive(Debug, Clone, Copy)]
pub enum Client<'a> {
    Ip(IpAddr),
    /// A client field that is not an address (a hostname).
    Name(&'a [u8]),
}

/// The keyed visitor identity: 16 bytes that mean nothing without the day's salt.
pub fn visitor_id(key: &[u8; 16], client: Client<'_>, agent_digest: &[u8; 16]) -> [u8; 16] {
    let mut h = SipHasher13::new_with_key(key);
    match client {
        Client::Ip(IpAddr::V4(v4)) => {
            h.write_u8(4);
            h.write(&v4.octets());
        }
        Client::Ip(IpAddr::V6(v6)) => {
            h.write_u8(6);
            h.write(&v6.octets());
        }
        Client::Name(name) => {
            h.write_u8(0);
            h.write(name);
            h.write_u8(0xff);
        }
    }
    h.write(agent_digest);
    h.finish128().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_salts_persist_per_day_and_expire_with_diagnostics() {
        let dir = tempfile::tempdir().unwrap();
        let day = 20_000;
        let now = day * 86_400 + 3600;
        let book = SaltBook::open(dir.path(), None, 7 * 86_400, now).unwrap();
        let k1 = book.key(day);
        let path = salt_path(&salt_dir(dir.path()), day);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = std::fs::metadata(salt_dir(dir.path()))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
        // A second run on the same day reuses the salt.
        let again = SaltBook::open(dir.path(), None, 7 * 86_400, now + 60).unwrap();
        assert_eq!(again.key(day), k1);
        // A day already past its retention gets a salt that is never stored.
        let old = day - 30;
        let _ = book.key(old);
        assert!(!salt_path(&salt_dir(dir.path()), old).exists());
        // Before expiry nothing is purged; at expiry the salt goes.
        assert_eq!(
            purge_salts(dir.path(), day * 86_400 + 7 * 86_400 - 1).unwrap(),
            0
        );
        assert_eq!(
            purge_salts(dir.path(), day * 86_400 + 7 * 86_400).unwrap(),
            1
        );
        assert!(!path.exists());
        let fresh = SaltBook::open(dir.path(), None, 7 * 86_400, now).unwrap();
        assert_ne!(fresh.key(day), k1);
    }

    #[test]
    fn shared_salts_depend_on_secret_and_date_only() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, [7u8; 32]).unwrap();
        let a = SaltBook::open(&dir.path().join("a"), Some(&secret), 86_400, 0).unwrap();
        let b = SaltBook::open(&dir.path().join("b"), Some(&secret), 3 * 86_400, 99).unwrap();
        assert_eq!(a.key(20_000), b.key(20_000));
        assert_ne!(a.key(20_000), a.key(20_001));
        assert!(!salt_dir(&dir.path().join("a")).exists());
        std::fs::write(&secret, [8u8; 32]).unwrap();
        let c = SaltBook::open(&dir.path().join("c"), Some(&secret), 86_400, 0).unwrap();
        assert_ne!(a.key(20_000), c.key(20_000));
        std::fs::write(&secret, [8u8; 15]).unwrap();
        assert!(SaltBook::open(dir.path(), Some(&secret), 86_400, 0).is_err());
    }

    #[test]
    fn identity_separates_address_agent_and_salt() {
        let ua = [1u8; 16];
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let ip2: IpAddr = "203.0.113.8".parse().unwrap();
        let k = [9u8; 16];
        let id = visitor_id(&k, Client::Ip(ip), &ua);
        assert_eq!(id, visitor_id(&k, Client::Ip(ip), &ua));
        assert_ne!(id, visitor_id(&k, Client::Ip(ip2), &ua));
        assert_ne!(id, visitor_id(&k, Client::Ip(ip), &[2u8; 16]));
        assert_ne!(id, visitor_id(&[8u8; 16], Client::Ip(ip), &ua));
        assert_ne!(id, visitor_id(&k, Client::Name(b"203.0.113.7"), &ua));
    }
}
