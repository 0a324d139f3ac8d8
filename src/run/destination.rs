//! Where a run's report goes, settled before any socket is bound: the folder asked for
//! (refused when it holds an earlier run's report, unless forced) or a fresh
//! `reports/<scenario>-<UTC timestamp>/`, created atomically with a suffix when two runs
//! start in the same second; checked writable either way. A write that fails at the end
//! falls back to a folder under the system's temporary folder rather than lose the
//! measurements, and the error names both.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::report::{self, History, RunReport};

/// The default parent of report folders, relative to the working directory.
pub const REPORTS: &str = "reports";

/// Under the system's temporary folder: where a report goes when its own folder fails.
const FALLBACK: &str = "paychaos-reports";

/// Why the report's folder cannot be used; every one is found before the run starts.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error(
        "the report folder {} (--out) holds the report of an earlier run (report.json): \
         choose another folder, or pass --force to replace it",
        .0.display()
    )]
    HoldsReport(PathBuf),
    #[error("the report folder {} (--out) exists and is not a folder", .0.display())]
    NotAFolder(PathBuf),
    #[error("cannot create the report folder {}: {source}", path.display())]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot write in the report folder {}: {source}", path.display())]
    NotWritable { path: PathBuf, source: io::Error },
}

/// A report folder that exists and could be written to when the run started.
#[derive(Debug)]
pub struct Destination {
    dir: PathBuf,
    /// Folders this run created, innermost first: removed again, while still empty, when
    /// the run fails before writing its report.
    created: Vec<PathBuf>,
}

impl Destination {
    /// `out` when given (with `force`, even when it holds an earlier report), else a new
    /// folder `<name>-<UTC timestamp of started_at>` under `reports`, suffixed `-2`, `-3`, …
    /// when that name is taken.
    pub fn prepare(
        out: Option<&Path>,
        force: bool,
        reports: &Path,
        name: &str,
        started_at: SystemTime,
    ) -> Result<Destination, DestinationError> {
        let (dir, created) = match out {
            Some(dir) => {
                if dir.exists() && !dir.is_dir() {
                    return Err(DestinationError::NotAFolder(dir.to_path_buf()));
                }
                if dir.join("report.json").exists() && !force {
                    return Err(DestinationError::HoldsReport(dir.to_path_buf()));
                }
                (dir.to_path_buf(), create_all(dir)?)
            }
            None => {
                let mut created = create_all(reports)?;
                let leaf = create_unique(reports, &report::dir_name(name, started_at)).map_err(
                    |source| DestinationError::Create {
                        path: reports.join(report::dir_name(name, started_at)),
                        source,
                    },
                )?;
                created.insert(0, leaf.clone());
                (leaf, created)
            }
        };
        let dest = Destination { dir, created };
        if let Err(source) = writable(&dest.dir) {
            dest.discard();
            return Err(DestinationError::NotWritable {
                path: dest.dir,
                source,
            });
        }
        Ok(dest)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes the folders this run created, as long as they are empty.
    pub fn discard(&self) {
        for d in &self.created {
            if fs::remove_dir(d).is_err() {
                return;
            }
        }
    }

    /// Writes `report` (and `history`, when given) into the folder and returns it. When that
    /// fails, writes it into a new folder under the system's temporary folder instead, and
    /// the error says which file failed, what was kept, and where the report is.
    pub fn write(&self, report: &RunReport, history: Option<&History>) -> anyhow::Result<PathBuf> {
        let failed = match report::write_all(report, history, &self.dir) {
            Ok(_) => return Ok(self.dir.clone()),
            Err(e) => e,
        };
        let parent = std::env::temp_dir().join(FALLBACK);
        let fallback = fs::create_dir_all(&parent)
            .and_then(|()| create_unique(&parent, &report.dir_name()))
            .map_err(|e| e.to_string())
            .and_then(|dir| {
                report::write_all(report, history, &dir)
                    .map(|_| dir)
                    .map_err(|e| e.to_string())
            });
        match fallback {
            Ok(dir) => Err(anyhow::anyhow!(
                "{failed}; the whole report was written to {} instead",
                dir.display()
            )),
            Err(e) => Err(anyhow::anyhow!(
                "{failed}; writing it under {} instead failed too: {e}",
                parent.display()
            )),
        }
    }
}

/// Whether files can be created in `dir` (tried with a file that is removed again).
///
/// # Errors
/// The error of creating that file.
pub fn writable(dir: &Path) -> io::Result<()> {
    let probe = dir.join(format!(".paychaos-write-check-{}", std::process::id()));
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    fs::remove_file(&probe)
}

/// Creates `dir` and its missing parents; returns those it created, innermost first.
fn create_all(dir: &Path) -> Result<Vec<PathBuf>, DestinationError> {
    let missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .map(Path::to_path_buf)
        .collect();
    fs::create_dir_all(dir).map_err(|source| DestinationError::Create {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(missing)
}

/// Creates `parent/base`, or `parent/base-2`, `-3`, … when taken: `create_dir` on the leaf
/// is atomic, so two runs never get one folder.
fn create_unique(parent: &Path, base: &str) -> io::Result<PathBuf> {
    let mut n = 1u32;
    loop {
        let name = if n == 1 {
            base.to_string()
        } else {
            format!("{base}-{n}")
        };
        let dir = parent.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 10_000 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn two_runs_started_in_the_same_second_get_their_own_folders() {
        // Arrange
        let tmp = tempfile::tempdir().unwrap();
        let reports = tmp.path().join("reports");

        // Act
        let first = Destination::prepare(None, false, &reports, "smoke", at()).unwrap();
        let second = Destination::prepare(None, false, &reports, "smoke", at()).unwrap();

        // Assert
        assert_eq!(first.dir(), reports.join("smoke-20231114T221320Z"));
        assert_eq!(second.dir(), reports.join("smoke-20231114T221320Z-2"));
        assert!(first.dir().is_dir() && second.dir().is_dir());
    }

    #[test]
    fn folders_made_at_once_by_many_threads_are_all_distinct() {
        let tmp = tempfile::tempdir().unwrap();
        let made: Vec<PathBuf> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| create_unique(tmp.path(), "x").unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let distinct: std::collections::BTreeSet<_> = made.iter().collect();
        assert_eq!(distinct.len(), 8, "{made:?}");
    }

    #[test]
    fn an_out_folder_holding_a_report_is_refused_unless_forced() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("report.json"), "{}").unwrap();

        let err = Destination::prepare(Some(&out), false, tmp.path(), "x", at()).unwrap_err();
        assert!(matches!(err, DestinationError::HoldsReport(_)), "{err}");
        assert!(err.to_string().contains("--force"), "{err}");

        let forced = Destination::prepare(Some(&out), true, tmp.path(), "x", at()).unwrap();
        assert_eq!(forced.dir(), out);
    }

    #[test]
    fn a_failed_run_removes_only_the_empty_folders_it_made() {
        // Arrange: `a` exists; `a/b/c` is made for the run.
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        fs::create_dir(&a).unwrap();
        let out = a.join("b").join("c");

        // Act
        let dest = Destination::prepare(Some(&out), false, tmp.path(), "x", at()).unwrap();
        assert!(out.is_dir());
        dest.discard();

        // Assert
        assert!(!a.join("b").exists());
        assert!(a.is_dir(), "not made by the run, so kept");
    }

    #[test]
    fn a_folder_that_cannot_be_made_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        fs::write(&file, "").unwrap();
        let err = Destination::prepare(Some(&file.join("out")), false, tmp.path(), "x", at())
            .unwrap_err();
        assert!(err.to_string().contains("file/out"), "{err}");
        let err = Destination::prepare(Some(&file), false, tmp.path(), "x", at()).unwrap_err();
        assert!(matches!(err, DestinationError::NotAFolder(_)), "{err}");
    }
}
