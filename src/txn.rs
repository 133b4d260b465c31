//! Run transactions and the output tree's lock. A run stages every output under
//! `OUT/state/txn/<run>/` (mirroring final paths, on the same filesystem), writes a commit
//! marker atomically, then moves the files into place and removes the staging directory. The
//! next run rolls an interrupted one forward (marker present) or back (absent). Owns staging,
//! the marker, recovery and the lock; never decides what a run writes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::store;

/// Staging directories of transactions, relative to the output tree.
pub const TXN_DIR: &str = "state/txn";
/// The lock file of the output tree, relative to it.
pub const LOCK_FILE: &str = "state/lock";
/// The commit marker in a transaction's directory: the plan, written atomically.
const MARKER: &str = "COMMIT";
/// The mirror of the output tree in a transaction's directory.
const TREE: &str = "tree";
/// Files whose final place is outside the output tree (anonymised copies).
const EXT: &str = "ext";

/// What a committed transaction does; its presence is the commit point.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Plan {
    run: String,
    /// Files to move: from (relative to the transaction's directory) to (relative to the
    /// output tree, or absolute for a file outside it). Replayed in order.
    moves: Vec<(PathBuf, PathBuf)>,
    /// Files to delete (relative to the output tree), after the moves.
    delete: Vec<PathBuf>,
}

/// A run's outputs being staged. Dropped without [`Txn::commit`], it removes its staging
/// directory: nothing of it was ever visible.
pub struct Txn {
    out: PathBuf,
    run: String,
    dir: PathBuf,
    external: Vec<(PathBuf, PathBuf)>,
    delete: Vec<PathBuf>,
    prepared: bool,
    done: bool,
}

/// What [`recover`] found.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Recovery {
    /// Runs that had committed and were moved into place.
    pub rolled_forward: Vec<String>,
    /// Runs that had not committed and were removed.
    pub rolled_back: Vec<String>,
}

/// Takes the output tree's lock (`OUT/state/lock`), waiting for it with `wait`.
pub fn lock(out: &Path, wait: bool) -> Result<store::Lock> {
    store::ensure_dir(out, store::PUBLIC_DIR)?;
    store::ensure_dir(&out.join("state"), store::PRIVATE_DIR)?;
    let path = out.join(LOCK_FILE);
    store::Lock::acquire(&path, wait).map_err(|e| match e {
        store::LockBusy::Held(pid) => Error::Locked { path, pid },
        store::LockBusy::Failed(e) => e,
    })
}

impl Txn {
    /// Starts staging the outputs of `run` in `out`. The caller holds the lock.
    pub fn begin(out: &Path, run: &str) -> Result<Txn> {
        store::ensure_dir(&out.join("state"), store::PRIVATE_DIR)?;
        let txns = out.join(TXN_DIR);
        store::ensure_dir(&txns, store::PRIVATE_DIR)?;
        let dir = txns.join(run);
        if dir.exists() {
            return Err(Error::Internal(format!(
                "transaction {} exists already",
                dir.display()
            )));
        }
        store::ensure_dir(&dir, store::PRIVATE_DIR)?;
        store::ensure_dir(&dir.join(TREE), store::PUBLIC_DIR)?;
        Ok(Txn {
            out: out.to_path_buf(),
            run: run.to_string(),
            dir,
            external: Vec::new(),
            delete: Vec::new(),
            prepared: false,
            done: false,
        })
    }

    /// The staging mirror of the output tree: write `X` here to publish `OUT/X`.
    pub fn root(&self) -> PathBuf {
        self.dir.join(TREE)
    }

    /// Where to stage a file whose final place, `dest`, is outside the output tree. Its
    /// directory must exist.
    pub fn stage_external(&mut self, dest: &Path) -> Result<PathBuf> {
        let parent = dest.parent().filter(|p| !p.as_os_str().is_empty());
        let parent = parent.unwrap_or(Path::new("."));
        let parent = fs::canonicalize(parent).map_err(|e| Error::output(parent, e))?;
        let name = dest
            .file_name()
            .ok_or_else(|| Error::Usage(format!("{} has no file name", dest.display())))?;
        let rel = Path::new(EXT)
            .join(self.external.len().to_string())
            .join(name);
        let staged = self.dir.join(&rel);
        store::ensure_dir(&self.dir.join(EXT), store::PRIVATE_DIR)?;
        store::ensure_dir(staged.parent().expect("has a parent"), store::PRIVATE_DIR)?;
        self.external.push((rel, parent.join(name)));
        Ok(staged)
    }

    /// Deletes `OUT/rel` when the transaction commits (a file a republication replaces).
    pub fn delete_on_commit(&mut self, rel: &Path) -> Result<()> {
        check_relative(rel)?;
        self.delete.push(rel.to_path_buf());
        Ok(())
    }

    /// Makes every staged file durable and writes the commit marker: from here on, the run
    /// is committed and a crash is rolled forward.
    pub fn prepare(&mut self) -> Result<()> {
        let tree = self.root();
        let mut files = Vec::new();
        walk(&tree, &mut |p, is_dir| {
            if !is_dir
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(store::TEMP_PREFIX))
            {
                files.push(p.to_path_buf());
            }
        })?;
        // The manifest goes first: a report is never visible without the manifest of its run.
        let rank = |rel: &Path| {
            if rel.starts_with("runs") {
                0
            } else if rel.starts_with("state") {
                2
            } else {
                1
            }
        };
        let mut moves: Vec<(PathBuf, PathBuf)> = files
            .iter()
            .map(|f| {
                let rel = f.strip_prefix(&tree).expect("under the tree").to_path_buf();
                (Path::new(TREE).join(&rel), rel)
            })
            .collect();
        moves.sort_by(|a, b| rank(&a.1).cmp(&rank(&b.1)).then(a.1.cmp(&b.1)));
        let state = moves
            .iter()
            .position(|m| rank(&m.1) == 2)
            .unwrap_or(moves.len());
        for e in &self.external {
            moves.insert(state, e.clone());
        }
        // Every file must be able to take its place: a destination taken by a directory, or a
        // directory taken by a file, fails the run now rather than halfway through the moves.
        for (_, to) in &moves {
            let dest = if to.is_absolute() {
                to.clone()
            } else {
                self.out.join(to)
            };
            if dest.is_dir() {
                return Err(Error::UnsafeOutput {
                    path: dest,
                    reason: "is a directory".into(),
                });
            }
            for a in dest.ancestors().skip(1) {
                match fs::symlink_metadata(a) {
                    Ok(m) if m.is_dir() => break,
                    Ok(_) => {
                        return Err(Error::UnsafeOutput {
                            path: a.to_path_buf(),
                            reason: "is not a directory".into(),
                        });
                    }
                    Err(_) => {}
                }
            }
        }
        // Directories created while staging are made durable before the marker is.
        walk(&self.dir, &mut |p, is_dir| {
            if is_dir {
                let _ = store::sync_dir(p);
            }
        })?;
        store::sync_dir(&self.dir)?;
        let plan = Plan {
            run: self.run.clone(),
            moves,
            delete: std::mem::take(&mut self.delete),
        };
        let json = serde_json::to_vec_pretty(&plan).expect("plan serialises");
        store::write_file(&self.dir.join(MARKER), store::PRIVATE_FILE, &json)?;
        self.prepared = true;
        Ok(())
    }

    /// Commits: writes the marker, moves every file into place, applies the deletions and
    /// removes the staging directory. Returns the final paths.
    pub fn commit(mut self) -> Result<Vec<PathBuf>> {
        if !self.prepared {
            self.prepare()?;
        }
        self.done = true;
        let plan = read_plan(&self.dir)?;
        apply(&self.out, &self.dir, &plan)
    }
}

impl Drop for Txn {
    fn drop(&mut self) {
        // Not committed: roll back. A prepared transaction is left for recovery to finish.
        if !self.done && !self.prepared {
            let _ = store::remove_tree(&self.dir);
        }
    }
}

/// Finishes or undoes every transaction an interrupted run left in `out`: with its marker it
/// is rolled forward, without it rolled back. The caller holds the lock.
pub fn recover(out: &Path) -> Result<Recovery> {
    let mut r = Recovery::default();
    let txns = out.join(TXN_DIR);
    let Ok(entries) = fs::read_dir(&txns) else {
        return Ok(r);
    };
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    dirs.sort();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !dir.is_dir() || name.starts_with(store::TEMP_PREFIX) {
            store::remove_tree(&dir)?;
            continue;
        }
        if dir.join(MARKER).is_file() {
            let plan = read_plan(&dir)?;
            apply(out, &dir, &plan)?;
            r.rolled_forward.push(name);
        } else {
            store::remove_tree(&dir)?;
            r.rolled_back.push(name);
        }
    }
    Ok(r)
}

fn read_plan(dir: &Path) -> Result<Plan> {
    let path = dir.join(MARKER);
    let bytes = fs::read(&path).map_err(|e| Error::input(&path, e))?;
    let plan: Plan = serde_json::from_slice(&bytes).map_err(|e| Error::State {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    for (from, to) in &plan.moves {
        check_relative(from)?;
        if !to.is_absolute() {
            check_relative(to)?;
        }
    }
    for d in &plan.delete {
        check_relative(d)?;
    }
    Ok(plan)
}

/// Replays a committed plan; every step may already have been done.
fn apply(out: &Path, dir: &Path, plan: &Plan) -> Result<Vec<PathBuf>> {
    let mut finals = Vec::new();
    for (from, to) in &plan.moves {
        let staged = dir.join(from);
        let dest = if to.is_absolute() {
            to.clone()
        } else {
            out.join(to)
        };
        if staged.exists() {
            if to.is_absolute() {
                let parent = dest.parent().unwrap_or(Path::new("/"));
                if !parent.is_dir() {
                    store::ensure_dir(parent, store::PUBLIC_DIR)?;
                }
            } else {
                make_parents(out, &dir.join(TREE), to)?;
            }
            store::move_file(&staged, &dest)?;
        }
        finals.push(dest);
    }
    for d in &plan.delete {
        if plan.moves.iter().any(|(_, to)| to == d) {
            continue;
        }
        store::remove_file(&out.join(d))?;
    }
    store::remove_tree(dir)?;
    Ok(finals)
}

/// Creates the missing directories of `OUT/rel`'s parent with the modes of their staged
/// counterparts under `tree`.
fn make_parents(out: &Path, tree: &Path, rel: &Path) -> Result<()> {
    let mut acc = PathBuf::new();
    let Some(parent) = rel.parent() else {
        return Ok(());
    };
    for c in parent.components() {
        acc.push(c);
        let fin = out.join(&acc);
        if fin.is_dir() {
            continue;
        }
        let mode = fs::metadata(tree.join(&acc))
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(store::PRIVATE_DIR);
        store::ensure_dir(&fin, mode)?;
        store::sync_dir(fin.parent().unwrap_or(out))?;
    }
    Ok(())
}

fn check_relative(p: &Path) -> Result<()> {
    if p.as_os_str().is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Error::State {
            path: p.to_path_buf(),
            reason: "not a plain relative path".into(),
        });
    }
    Ok(())
}

/// Visits every entry under `dir` (not following symlinks), children before their parent.
fn walk(dir: &Path, f: &mut dyn FnMut(&Path, bool)) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| Error::input(dir, e))?;
    for e in entries {
        let e = e.map_err(|e| Error::input(dir, e))?;
        let path = e.path();
        let t = e.file_type().map_err(|err| Error::input(&path, err))?;
        if t.is_dir() {
            walk(&e.path(), f)?;
            f(&e.path(), true);
        } else if t.is_file() {
            f(&e.path(), false);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transaction of `run` staging `files` (relative path, content) in `out`.
    fn staged(out: &Path, run: &str, files: &[(&str, &str)]) -> Txn {
        let txn = Txn::begin(out, run).unwrap();
        for (rel, body) in files {
            let p = txn.root().join(rel);
            store::ensure_dir(p.parent().unwrap(), store::PUBLIC_DIR).unwrap();
            store::write_file(&p, store::PUBLIC_FILE, body.as_bytes()).unwrap();
        }
        txn
    }

    /// Every regular file of `out` outside `state/`, with its content.
    fn visible(out: &Path) -> Vec<(String, String)> {
        let mut v = Vec::new();
        walk(out, &mut |p, is_dir| {
            let rel = p.strip_prefix(out).unwrap();
            if !is_dir && !rel.starts_with("state") {
                v.push((rel.display().to_string(), fs::read_to_string(p).unwrap()));
            }
        })
        .unwrap();
        v.sort();
        v
    }

    fn check(out: &Path, expected: &[(&str, &str)]) {
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(visible(out), want);
        let left = fs::read_dir(out.join(TXN_DIR))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(left, 0, "no transaction left behind");
    }

    const FILES: &[(&str, &str)] = &[
        ("runs/r1.json", "{}"),
        ("reports/geo_daily/date=2026-10-01/part-r1.parquet", "a"),
        ("diagnostics/date=2026-10-01/part-r1.parquet", "d"),
    ];

    #[test]
    fn committed_run_is_visible_whole() {
        let dir = tempfile::tempdir().unwrap();
        let files = staged(dir.path(), "r1", FILES).commit().unwrap();
        assert_eq!(files.len(), 3);
        let mut want = FILES.to_vec();
        want.sort();
        check(dir.path(), &want);
        let mode = |p: &str| {
            fs::metadata(dir.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("reports/geo_daily"), 0o755);
    }

    #[test]
    fn interrupted_before_the_marker_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        std::mem::forget(staged(dir.path(), "r1", FILES)); // killed while staging
        let r = recover(dir.path()).unwrap();
        assert_eq!(r.rolled_back, ["r1"]);
        check(dir.path(), &[]);
    }

    #[test]
    fn interrupted_after_the_marker_rolls_forward() {
        let dir = tempfile::tempdir().unwrap();
        let mut txn = staged(dir.path(), "r1", FILES);
        txn.prepare().unwrap();
        drop(txn); // killed right after the marker
        let r = recover(dir.path()).unwrap();
        assert_eq!(r.rolled_forward, ["r1"]);
        let mut want = FILES.to_vec();
        want.sort();
        check(dir.path(), &want);
    }

    #[test]
    fn interrupted_halfway_through_the_moves_rolls_forward() {
        let dir = tempfile::tempdir().unwrap();
        let mut txn = staged(dir.path(), "r1", FILES);
        txn.prepare().unwrap();
        let plan = read_plan(&txn.dir).unwrap();
        // The first move happened, then the process died.
        let (from, to) = &plan.moves[0];
        assert_eq!(to, Path::new("runs/r1.json"), "the manifest moves first");
        make_parents(dir.path(), &txn.root(), to).unwrap();
        store::move_file(&txn.dir.join(from), &dir.path().join(to)).unwrap();
        drop(txn);
        recover(dir.path()).unwrap();
        let mut want = FILES.to_vec();
        want.sort();
        check(dir.path(), &want);
    }

    #[test]
    fn a_commit_can_replace_and_delete_files() {
        let dir = tempfile::tempdir().unwrap();
        staged(dir.path(), "r1", FILES).commit().unwrap();
        let mut txn = staged(
            dir.path(),
            "r2",
            &[
                ("runs/r2.json", "{}"),
                ("reports/geo_daily/date=2026-10-01/part-all.parquet", "b"),
                ("diagnostics/date=2026-10-01/part-r1.parquet", "d2"),
            ],
        );
        txn.delete_on_commit(Path::new(
            "reports/geo_daily/date=2026-10-01/part-r1.parquet",
        ))
        .unwrap();
        // Replaced by a move to the same path: not deleted after it.
        txn.delete_on_commit(Path::new("diagnostics/date=2026-10-01/part-r1.parquet"))
            .unwrap();
        txn.prepare().unwrap();
        drop(txn);
        recover(dir.path()).unwrap();
        check(
            dir.path(),
            &[
                ("diagnostics/date=2026-10-01/part-r1.parquet", "d2"),
                ("reports/geo_daily/date=2026-10-01/part-all.parquet", "b"),
                ("runs/r1.json", "{}"),
                ("runs/r2.json", "{}"),
            ],
        );
    }

    #[test]
    fn a_dropped_transaction_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        drop(staged(dir.path(), "r1", FILES));
        check(dir.path(), &[]);
    }

    #[test]
    fn external_files_move_outside_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let copies = dir.path().join("copies");
        fs::create_dir(&copies).unwrap();
        let mut txn = staged(&out, "r1", &[("runs/r1.json", "{}")]);
        let p = txn.stage_external(&copies.join("access.log")).unwrap();
        store::write_file(&p, store::LOG_FILE, b"anon\n").unwrap();
        txn.commit().unwrap();
        assert_eq!(fs::read(copies.join("access.log")).unwrap(), b"anon\n");
    }

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(dir.path(), false).unwrap();
        match lock(dir.path(), false) {
            Err(Error::Locked { path, pid }) => {
                assert!(path.ends_with(LOCK_FILE));
                assert_eq!(pid, Some(std::process::id()));
            }
            other => panic!("expected Locked, got {:?}", other.map(|_| ())),
        }
        drop(held);
        lock(dir.path(), false).unwrap();
    }
}
