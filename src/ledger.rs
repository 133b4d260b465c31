//! The ledger of processed content (`OUT/state/ledger.json`): which input content this output
//! tree has counted, and how far, so that no byte is counted twice whatever the files are
//! named. Identifies content only by hashes and lengths; never stores a byte of content, and
//! never writes itself (the run's transaction does).
//!
//! An entry says: the first `len` bytes of some content (decompressed) were processed, with
//! BLAKE3 `hash`; `head` is the BLAKE3 of its first `min(len, 64 KiB)` bytes, the lookup key.
//! A candidate file is looked up by its head; for each entry whose head matches, the
//! candidate's first `len` bytes are hashed. When one matches, the candidate is that content
//! (renamed, compressed, copied): skipped when it has nothing after `len`, read from `len`
//! when it has. Names, inodes and times play no part.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::source::{self, Compression, Resume};

/// Bytes of content the lookup key covers.
pub const HEAD_BYTES: usize = 64 * 1024;

/// File of the ledger, relative to the output tree.
pub const LEDGER_FILE: &str = "state/ledger.json";

/// One content prefix that was processed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Bytes of content processed (complete lines; all of a compressed input).
    pub len: u64,
    /// BLAKE3 of those `len` bytes, hex.
    pub hash: String,
    /// BLAKE3 of the first `min(len, HEAD_BYTES)` bytes, hex.
    pub head: String,
    /// The name it was last processed under (for people; never used to match).
    pub name: String,
    /// The run that last extended it.
    pub run: String,
}

impl Entry {
    fn head_len(&self) -> usize {
        (self.len as usize).min(HEAD_BYTES)
    }
}

/// Every content prefix this output tree has processed.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    pub version: u32,
    pub entries: Vec<Entry>,
}

/// What a candidate input is to the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Content the ledger has never seen: read it all.
    New,
    /// Content processed whole already (entry index): skip it.
    Seen(usize),
    /// Content processed up to `from` (entry index), with more after it: read from there.
    Grown(usize, u64),
}

/// A candidate input, looked up.
pub struct Identity {
    pub verdict: Verdict,
    /// Where to read it from, with the hash state of what is skipped.
    pub resume: Resume,
    /// The first [`HEAD_BYTES`] of its content (for the new entry's key).
    head: Vec<u8>,
    /// Bytes of content after the resume point that the run will read (plain files; `None`
    /// for a compressed input, read to its end).
    pub pending: Option<u64>,
    pub compression: Compression,
    /// Size of the file on disk when it was looked at.
    pub file_len: u64,
}

impl Ledger {
    /// Reads the ledger of `out`; an absent ledger is empty.
    pub fn load(out: &Path) -> Result<Ledger> {
        let path = out.join(LEDGER_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::State {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ledger {
                version: 1,
                entries: Vec::new(),
            }),
            Err(e) => Err(Error::input(path, e)),
        }
    }

    /// Writes the ledger under `root` (a transaction's staging tree), 0600 in a 0700 dir.
    pub fn save(&self, root: &Path) -> Result<PathBuf> {
        let path = root.join(LEDGER_FILE);
        let dir = path.parent().expect("ledger file has a directory");
        crate::store::ensure_dir(dir, crate::store::PRIVATE_DIR)?;
        let json = serde_json::to_vec_pretty(self).expect("ledger serialises");
        crate::store::write_file(&path, crate::store::PRIVATE_FILE, &json)
    }

    /// Looks `path` up: reads its first 64 KiB, then, for the entries whose head matches, its
    /// first `len` bytes (decompressed), longest match wins.
    pub fn identify(&self, path: &Path) -> Result<Identity> {
        let file_len = std::fs::metadata(path)
            .map_err(|e| Error::input(path, e))?
            .len();
        let (mut reader, compression) = source::content_reader(path)?;
        let mut head = Vec::with_capacity(HEAD_BYTES);
        (&mut reader)
            .take(HEAD_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(|e| Error::input(path, e))?;
        let mut heads: std::collections::HashMap<usize, String> = Default::default();
        let mut candidates: Vec<usize> = (0..self.entries.len())
            .filter(|&i| {
                let e = &self.entries[i];
                let n = e.head_len();
                e.len > 0
                    && n <= head.len()
                    && *heads
                        .entry(n)
                        .or_insert_with(|| blake3::hash(&head[..n]).to_hex().to_string())
                        == e.head
            })
            .collect();
        candidates.sort_by_key(|&i| self.entries[i].len);

        // Hash the candidate's content incrementally, checking each entry's length on the way.
        let mut hasher = blake3::Hasher::new();
        let mut pos: u64 = 0;
        let mut best: Option<(usize, blake3::Hasher)> = None;
        let mut buf = vec![0u8; 256 * 1024];
        let mut ended = false;
        for i in candidates {
            let want = self.entries[i].len;
            while pos < want {
                if (pos as usize) < head.len() {
                    let upto = (want as usize).min(head.len());
                    hasher.update(&head[pos as usize..upto]);
                    pos = upto as u64;
                    continue;
                }
                let n = ((want - pos) as usize).min(buf.len());
                let got =
                    read_some(&mut reader, &mut buf[..n]).map_err(|e| Error::input(path, e))?;
                if got == 0 {
                    ended = true;
                    break;
                }
                hasher.update(&buf[..got]);
                pos += got as u64;
            }
            if ended {
                break;
            }
            if hasher.finalize().to_hex().as_str() == self.entries[i].hash {
                best = Some((i, hasher.clone()));
            }
        }

        let (verdict, resume) = match best {
            None => (
                Verdict::New,
                Resume {
                    start: 0,
                    end: None,
                    prior: Some(blake3::Hasher::new()),
                },
            ),
            Some((i, h)) => {
                let from = self.entries[i].len;
                (
                    Verdict::Grown(i, from),
                    Resume {
                        start: from,
                        end: None,
                        prior: Some(h),
                    },
                )
            }
        };
        let mut id = Identity {
            verdict,
            resume,
            head,
            pending: None,
            compression,
            file_len,
        };
        if compression == Compression::None {
            // A plain file may still be written: only its complete lines are read.
            let end = source::last_line_end(path, file_len)?;
            id.resume.end = Some(end);
            id.pending = Some(end.saturating_sub(id.resume.start));
            if let Verdict::Grown(i, from) = id.verdict
                && end <= from
            {
                id.verdict = Verdict::Seen(i);
            }
        } else if let Verdict::Grown(i, from) = id.verdict {
            // Is there anything after the processed prefix?
            let more = if (from as usize) < id.head.len() || pos > from {
                true
            } else {
                let mut one = [0u8; 1];
                read_some(&mut reader, &mut one).map_err(|e| Error::input(path, e))? > 0
            };
            if !more {
                id.verdict = Verdict::Seen(i);
            }
        }
        Ok(id)
    }

    /// Records that `name`'s content was processed up to `len` bytes with hash `hash`:
    /// replaces the entry it extended, or adds one. An empty prefix is never recorded (it
    /// would match every file).
    pub fn record(
        &mut self,
        id: &Identity,
        len: u64,
        hash: blake3::Hash,
        name: &str,
        run: &str,
    ) -> bool {
        if len == 0 {
            return false;
        }
        let n = (len as usize).min(HEAD_BYTES).min(id.head.len());
        let entry = Entry {
            len,
            hash: hash.to_hex().to_string(),
            head: blake3::hash(&id.head[..n]).to_hex().to_string(),
            name: name.to_string(),
            run: run.to_string(),
        };
        match id.verdict {
            Verdict::Grown(i, _) | Verdict::Seen(i) => self.entries[i] = entry,
            Verdict::New => self.entries.push(entry),
        }
        true
    }
}

fn read_some(reader: &mut Box<dyn Read + Send>, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{InputSpec, Source};
    use std::io::Write;

    /// Processes `path` as a run would: looks it up, reads what is new, records it. Returns
    /// the bytes read (None: skipped).
    fn run_once(ledger: &mut Ledger, path: &Path) -> Option<Vec<u8>> {
        let id = ledger.identify(path).unwrap();
        if let Verdict::Seen(_) = id.verdict {
            return None;
        }
        let src = Source::open_at(
            &InputSpec::Path(path.to_path_buf()),
            true,
            1000,
            id.resume.clone(),
        )
        .unwrap();
        let mut got = Vec::new();
        while let Some(c) = src.next_chunk().unwrap() {
            got.extend_from_slice(c.bytes());
        }
        let (len, hash) = src.content_digest().unwrap();
        ledger.record(&id, len, hash, "x", "r");
        Some(got)
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn lines(from: usize, to: usize) -> Vec<u8> {
        (from..to)
            .flat_map(|i| format!("line {i} of the log, padded to look like one\n").into_bytes())
            .collect()
    }

    #[test]
    fn rotation_growth_and_compression_are_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("access.log");
        let mut ledger = Ledger::default();
        // Small, then past the 64 KiB head, so both kinds of key are exercised.
        let a = lines(0, 100);
        std::fs::write(&log, &a).unwrap();
        assert_eq!(run_once(&mut ledger, &log).unwrap(), a);
        assert_eq!(run_once(&mut ledger, &log), None, "unchanged: skipped");
        // Growth with a partial last line: only the complete new lines.
        let b = lines(100, 3000);
        let mut grown = [a.clone(), b.clone()].concat();
        grown.extend_from_slice(b"partial");
        std::fs::write(&log, &grown).unwrap();
        assert_eq!(run_once(&mut ledger, &log).unwrap(), b);
        assert_eq!(ledger.entries.len(), 1);
        // Rotation: renamed, then compressed; the partial line is completed first.
        let mut done = grown.clone();
        done.extend_from_slice(b" now complete\n");
        std::fs::write(&log, &done).unwrap();
        let rotated = dir.path().join("access.log.1");
        std::fs::rename(&log, &rotated).unwrap();
        assert_eq!(
            run_once(&mut ledger, &rotated).unwrap(),
            b"partial now complete\n"
        );
        let gz = dir.path().join("access.log.2.gz");
        std::fs::write(&gz, gzip(&done)).unwrap();
        std::fs::remove_file(&rotated).unwrap();
        assert_eq!(run_once(&mut ledger, &gz), None, "compressed copy: skipped");
        // A new log under the old name is new content.
        let c = lines(5000, 5010);
        std::fs::write(&log, &c).unwrap();
        assert_eq!(run_once(&mut ledger, &log).unwrap(), c);
        assert_eq!(ledger.entries.len(), 2);
    }

    #[test]
    fn a_compressed_file_that_grew_is_read_from_its_processed_length() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        let mut ledger = Ledger::default();
        let a = lines(0, 2000);
        std::fs::write(&log, &a).unwrap();
        run_once(&mut ledger, &log).unwrap();
        let b = lines(2000, 2100);
        let gz = dir.path().join("a.log.1.gz");
        std::fs::write(&gz, gzip(&[a.clone(), b.clone()].concat())).unwrap();
        assert_eq!(run_once(&mut ledger, &gz).unwrap(), b);
        assert_eq!(run_once(&mut ledger, &gz), None);
    }

    #[test]
    fn different_content_with_a_shared_head_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::default();
        let common = lines(0, 3000);
        let one = dir.path().join("one.log");
        std::fs::write(&one, [common.clone(), lines(7000, 7001)].concat()).unwrap();
        run_once(&mut ledger, &one).unwrap();
        let two = dir.path().join("two.log");
        let other = [common.clone(), lines(9000, 9001)].concat();
        std::fs::write(&two, &other).unwrap();
        assert_eq!(run_once(&mut ledger, &two).unwrap(), other);
        assert_eq!(ledger.entries.len(), 2);
    }

    #[test]
    fn empty_and_unterminated_files_are_not_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::default();
        let p = dir.path().join("e.log");
        std::fs::write(&p, b"").unwrap();
        assert_eq!(run_once(&mut ledger, &p).unwrap(), b"");
        std::fs::write(&p, b"no newline yet").unwrap();
        assert_eq!(run_once(&mut ledger, &p).unwrap(), b"");
        assert!(ledger.entries.is_empty());
    }
}
