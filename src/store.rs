//! The one module that writes to disk. Every file is written under a temporary name in its
//! final directory with its mode set at creation (O_CREAT|O_EXCL|O_NOFOLLOW), fsynced, then
//! renamed into place, and the directory fsynced. Never writes through a symlink or into a
//! directory that others can write.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Mode of analyst-facing files.
pub const PUBLIC_FILE: u32 = 0o644;
/// Mode of analyst-facing directories.
pub const PUBLIC_DIR: u32 = 0o755;
/// Mode of files holding personal data (diagnostics, salts, state).
pub const PRIVATE_FILE: u32 = 0o600;
/// Mode of directories holding personal data.
pub const PRIVATE_DIR: u32 = 0o700;

/// Prefix of temporary files; readers and globs (`*.parquet`) never match it.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Creates `dir` and its missing parents with `mode` (set at creation), and refuses a
/// directory that is a symlink or writable by group or others.
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(meta) => check_dir(dir, &meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty())
                && !parent.exists()
            {
                ensure_dir(parent, mode.max(PUBLIC_DIR & mode | PRIVATE_DIR))?;
            }
            match fs::DirBuilder::new().mode(mode).create(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::output(dir, e)),
            }
            // The umask may have removed bits we asked for, never added any: a private
            // directory stays private.
            let meta = fs::symlink_metadata(dir).map_err(|e| Error::output(dir, e))?;
            check_dir(dir, &meta)
        }
        Err(e) => Err(Error::output(dir, e)),
    }
}

fn check_dir(dir: &Path, meta: &fs::Metadata) -> Result<()> {
    if meta.file_type().is_symlink() {
        return Err(Error::UnsafeOutput {
            path: dir.into(),
            reason: "is a symlink".into(),
        });
    }
    if !meta.is_dir() {
        return Err(Error::UnsafeOutput {
            path: dir.into(),
            reason: "is not a directory".into(),
        });
    }
    if meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0 {
        return Err(Error::UnsafeOutput {
            path: dir.into(),
            reason: format!(
                "is writable by group or others (mode {:o})",
                meta.mode() & 0o7777
            ),
        });
    }
    Ok(())
}

/// A file being written: invisible under a temporary name until [`AtomicFile::commit`].
/// Dropped without commit, it removes its temporary file.
pub struct AtomicFile {
    file: Option<File>,
    tmp: PathBuf,
    dest: PathBuf,
}

impl AtomicFile {
    /// Starts writing `dest` with `mode`. The parent directory must exist.
    pub fn create(dest: &Path, mode: u32) -> Result<Self> {
        let dir = parent_dir(dest);
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!("{TEMP_PREFIX}{}-{name}", random_hex(6)));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(|e| Error::output(&tmp, e))?;
        // The umask can only clear bits; make sure a public file is readable as promised.
        if mode & 0o044 != 0 {
            file.set_permissions(fs::Permissions::from_mode(mode))
                .map_err(|e| Error::output(&tmp, e))?;
        }
        Ok(AtomicFile {
            file: Some(file),
            tmp,
            dest: dest.to_path_buf(),
        })
    }

    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Flushes, fsyncs, renames into place and fsyncs the directory.
    pub fn commit(mut self) -> Result<PathBuf> {
        let file = self.file.take().expect("file present until commit");
        let placed = file
            .sync_all()
            .map_err(|e| Error::output(&self.tmp, e))
            .and_then(|()| {
                drop(file);
                fs::rename(&self.tmp, &self.dest).map_err(|e| Error::output(&self.dest, e))
            });
        if let Err(e) = placed {
            // A failed fsync (a full disk) or rename leaves no temporary behind.
            let _ = fs::remove_file(&self.tmp);
            return Err(e);
        }
        sync_dir(parent_dir(&self.dest))?;
        Ok(self.dest.clone())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file
            .as_mut()
            .expect("file present until commit")
            .write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file
            .as_mut()
            .expect("file present until commit")
            .flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Mode of the anonymised copy of a log written by `logveil anonymise -o` (as Debian's
/// `/var/log/apache2/access.log`: owner and the log readers' group).
pub const LOG_FILE: u32 = 0o640;

/// Opens `path` for appending, creating it with `mode` (set at creation) when it is missing,
/// and never through a symlink. This is the one write that is **not atomic**: the anonymised
/// copy of a log fed by a long-running pipe (Apache's `CustomLog "|logveil anonymise -o …"`)
/// must grow line by line, readable while it is written, and keep what earlier runs wrote,
/// as the server's own log would. Each write lands at the end of the file (`O_APPEND`).
pub fn open_append(path: &Path, mode: u32) -> Result<File> {
    let open = |create: bool| {
        OpenOptions::new()
            .append(true)
            .create_new(create)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
    };
    let file = match open(true) {
        Ok(f) => {
            // Created here: the mode is the one asked for, whatever the umask.
            f.set_permissions(fs::Permissions::from_mode(mode))
                .map_err(|e| Error::output(path, e))?;
            f
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            open(false).map_err(|e| Error::output(path, e))?
        }
        Err(e) => return Err(Error::output(path, e)),
    };
    let meta = file.metadata().map_err(|e| Error::output(path, e))?;
    if meta.is_dir() {
        return Err(Error::UnsafeOutput {
            path: path.into(),
            reason: "is a directory".into(),
        });
    }
    Ok(file)
}

/// Writes a whole file atomically.
pub fn write_file(dest: &Path, mode: u32, bytes: &[u8]) -> Result<PathBuf> {
    let mut f = AtomicFile::create(dest, mode)?;
    f.write_all(bytes).map_err(|e| Error::output(dest, e))?;
    f.commit()
}

/// Removes a file and fsyncs its directory. A file already gone is not an error.
pub fn remove_file(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => {
            sync_dir(parent_dir(path))?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::output(path, e)),
    }
}

/// Removes files already committed by a run that then failed (best effort: the run's own
/// error is what gets reported), so that nothing of it stays published.
pub fn withdraw(paths: &[PathBuf]) {
    for p in paths {
        let _ = remove_file(p);
    }
}

/// Removes a directory if it is empty; anything else is left alone.
pub fn remove_dir_if_empty(dir: &Path) {
    let _ = fs::remove_dir(dir);
}

/// Removes temporary files that a crashed run left in `dir`.
pub fn remove_stale_temps(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(0);
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX)
            && entry.file_type().map(|t| t.is_file()).unwrap_or(false)
        {
            remove_file(&entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The directory holding `path`: `.` for a bare file name (whose `parent()` is empty).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Moves `from` to `to` (same filesystem), replacing `to`, and fsyncs both directories. A
/// `from` that is already gone is not an error (`Ok(false)`): moves are replayed after a crash.
pub fn move_file(from: &Path, to: &Path) -> Result<bool> {
    match fs::symlink_metadata(from) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::output(from, e)),
        Ok(m) if !m.is_file() => {
            return Err(Error::UnsafeOutput {
                path: from.into(),
                reason: "is not a regular file".into(),
            });
        }
        Ok(_) => {}
    }
    if let Ok(m) = fs::symlink_metadata(to)
        && !m.is_file()
    {
        return Err(Error::UnsafeOutput {
            path: to.into(),
            reason: "is not a regular file".into(),
        });
    }
    match fs::rename(from, to) {
        Ok(()) => {}
        // Another filesystem (a copy directory elsewhere): copy atomically, then remove.
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let mode = fs::metadata(from)
                .map_err(|e| Error::output(from, e))?
                .mode()
                & 0o7777;
            let mut src = File::open(from).map_err(|e| Error::output(from, e))?;
            let mut f = AtomicFile::create(to, mode)?;
            io::copy(&mut src, &mut f).map_err(|e| Error::output(to, e))?;
            f.commit()?;
            fs::remove_file(from).map_err(|e| Error::output(from, e))?;
        }
        Err(e) => return Err(Error::output(to, e)),
    }
    sync_dir(to.parent().unwrap_or(Path::new(".")))?;
    sync_dir(from.parent().unwrap_or(Path::new(".")))?;
    Ok(true)
}

/// Removes a directory tree that this program created (a transaction's staging area). Never
/// follows a symlink: a symlink inside is removed as a link.
pub fn remove_tree(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::output(dir, e)),
        Ok(m) if !m.is_dir() => return remove_file(dir).map(|_| ()),
        Ok(_) => {}
    }
    fs::remove_dir_all(dir).map_err(|e| Error::output(dir, e))?;
    sync_dir(dir.parent().unwrap_or(Path::new(".")))
}

/// An exclusive advisory lock (`flock`) on a file, held until dropped. The file (0600, never
/// through a symlink) holds the holder's pid, for the message another process prints.
pub struct Lock {
    file: File,
    path: PathBuf,
}

/// Why [`Lock::acquire`] did not get the lock.
#[derive(Debug)]
pub enum LockBusy {
    /// Another process holds it; its pid, when the file tells.
    Held(Option<u32>),
    Failed(Error),
}

impl Lock {
    /// Takes the lock on `path`, creating the file. With `wait`, blocks until the holder
    /// releases it; otherwise fails at once with the holder's pid.
    pub fn acquire(path: &Path, wait: bool) -> std::result::Result<Lock, LockBusy> {
        use std::io::{Read, Seek};
        use std::os::fd::AsRawFd;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(PRIVATE_FILE)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| LockBusy::Failed(Error::output(path, e)))?;
        let op = if wait {
            libc::LOCK_EX
        } else {
            libc::LOCK_EX | libc::LOCK_NB
        };
        loop {
            // SAFETY: flock on a file descriptor we own has no memory-safety preconditions.
            if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
                break;
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EWOULDBLOCK) => {
                    let mut s = String::new();
                    let _ = file.read_to_string(&mut s);
                    return Err(LockBusy::Held(s.trim().parse().ok()));
                }
                _ => return Err(LockBusy::Failed(Error::output(path, e))),
            }
        }
        let pid = format!("{}\n", std::process::id());
        let written = file
            .set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(pid.as_bytes()));
        written.map_err(|e| LockBusy::Failed(Error::output(path, e)))?;
        Ok(Lock {
            file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // The pid is cleared so that a stale number is never shown; the lock itself goes with
        // the descriptor.
        let _ = self.file.set_len(0);
    }
}

/// Fsyncs a directory, so that renames and removals in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).map_err(|e| Error::output(dir, e))?;
    d.sync_all().map_err(|e| Error::output(dir, e))
}

/// Random lower-case hex, `bytes` bytes long before encoding.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if getrandom::fill(&mut buf).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        buf.iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (t >> (i * 8 % 128)) as u8 ^ std::process::id() as u8);
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_sets_mode_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("priv");
        ensure_dir(&private, PRIVATE_DIR).unwrap();
        assert_eq!(fs::metadata(&private).unwrap().mode() & 0o777, 0o700);
        let dest = private.join("a.bin");
        write_file(&dest, PRIVATE_FILE, b"hello").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"hello");
        assert_eq!(fs::metadata(&dest).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::read_dir(&private).unwrap().count(), 1);
    }

    #[test]
    fn bare_file_name_is_written_in_the_current_directory() {
        // Regression: `report --html page.html` failed to fsync the directory "".
        assert_eq!(parent_dir(Path::new("page.html")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/page.html")), Path::new("a"));
        assert_eq!(parent_dir(Path::new("/page.html")), Path::new("/"));
    }

    #[test]
    fn dropped_file_is_never_visible() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("x.parquet");
        {
            let mut f = AtomicFile::create(&dest, PUBLIC_FILE).unwrap();
            f.write_all(b"partial").unwrap();
        }
        assert!(!dest.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn append_creates_with_mode_keeps_content_and_refuses_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        open_append(&path, LOG_FILE)
            .unwrap()
            .write_all(b"one\n")
            .unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o640);
        open_append(&path, LOG_FILE)
            .unwrap()
            .write_all(b"two\n")
            .unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one\ntwo\n");
        let link = dir.path().join("link.log");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(open_append(&link, LOG_FILE).is_err());
    }

    #[test]
    fn refuses_symlinked_and_shared_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(matches!(
            ensure_dir(&link, PRIVATE_DIR),
            Err(Error::UnsafeOutput { .. })
        ));
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            ensure_dir(&shared, PUBLIC_DIR),
            Err(Error::UnsafeOutput { .. })
        ));
    }
}
