//! Writing a report folder: every format rendered from one [`RunReport`], each through a
//! temporary file renamed into place, so a reader never sees half a file.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{history, html, json, junit, markdown, History, RunReport};

/// Writes every report file into `dir` (created if needed), and `history.jsonl` from
/// `history` when given, each through a temporary file renamed into place, so a reader never
/// sees half a file. Returns the paths written.
pub fn write_all(
    report: &RunReport,
    history: Option<&History>,
    dir: &Path,
) -> Result<Vec<PathBuf>, WriteError> {
    let mut written = Vec::new();
    fs::create_dir_all(dir).map_err(|source| WriteError {
        path: dir.to_path_buf(),
        written: Vec::new(),
        source,
    })?;
    type Writer = fn(&RunReport, &mut BufWriter<fs::File>) -> io::Result<()>;
    let files: [(&str, Writer); 4] = [
        ("report.json", |r, w| json::write(r, w)),
        ("report.md", |r, w| markdown::write(r, w)),
        ("report.html", |r, w| html::write(r, w)),
        (junit::FILE_NAME, |r, w| junit::write(r, w)),
    ];
    for (name, write) in files {
        let path = dir.join(name);
        match write_atomically(&path, |w| write(report, w)) {
            Ok(()) => written.push(path),
            Err(source) => {
                return Err(WriteError {
                    path,
                    written,
                    source,
                })
            }
        }
    }
    // Last: the largest file, streamed one order at a time.
    if let Some(h) = history {
        let path = dir.join(history::FILE_NAME);
        match write_atomically(&path, |w| h.write(w)) {
            Ok(()) => written.push(path),
            Err(source) => {
                return Err(WriteError {
                    path,
                    written,
                    source,
                })
            }
        }
    }
    Ok(written)
}

/// A report file (or its folder) that could not be written; the files written before it
/// are complete and stay where they are.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source} ({})", path.display(), kept(written))]
pub struct WriteError {
    pub path: PathBuf,
    pub written: Vec<PathBuf>,
    #[source]
    pub source: io::Error,
}

fn kept(written: &[PathBuf]) -> String {
    if written.is_empty() {
        return "nothing was written".into();
    }
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    format!("kept: {}", names.join(", "))
}

pub(crate) fn write_atomically(
    path: &Path,
    render: impl FnOnce(&mut BufWriter<fs::File>) -> io::Result<()>,
) -> io::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "report path has no name"))?;
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut w = BufWriter::new(fs::File::create(&tmp)?);
        render(&mut w)?;
        w.flush()?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
