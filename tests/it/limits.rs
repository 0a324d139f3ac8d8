//! The limits on what `paychaos` reads and the rules its inputs share: scenario files (size,
//! kind, fault windows), values too large for a key, webhook secrets, listen addresses.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn paychaos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_paychaos"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const MINIMAL: &str =
    "name = \"t\"\n[load]\nprofile = \"constant\"\nrate = 10\nduration = \"1s\"\n";

fn validate(file: &Path) -> (Option<i32>, String) {
    let out: Output = paychaos()
        .arg("validate")
        .arg(file)
        .output()
        .expect("paychaos runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_device_or_directory_is_refused_before_it_is_read() {
    // #11: validate read /dev/zero until 2.9 GB.
    for path in ["/dev/zero", "/tmp"] {
        let (code, err) = validate(Path::new(path));
        assert_eq!(code, Some(2), "{path}: {err}");
        assert!(
            err.starts_with(&format!("{path}: not a regular file")),
            "{err}"
        );
        assert!(err.contains("at most 1 MiB (1048576 bytes)"), "{err}");
    }
}

#[test]
fn a_file_over_one_mebibyte_is_refused_naming_file_and_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let padding = "#".repeat(1 << 20);
    let text = format!("{MINIMAL}{padding}\n");
    let file = write(tmp.path(), "huge.toml", &text);
    let (code, err) = validate(&file);
    assert_eq!(code, Some(2), "{err}");
    let has = format!("huge.toml: the file has {} bytes", text.len());
    assert!(err.contains(&has), "{err}");
    assert!(
        err.contains("expected a regular file of at most 1 MiB"),
        "{err}"
    );
    // Just under the limit is read as usual.
    let fits = write(
        tmp.path(),
        "fits.toml",
        &format!("{MINIMAL}#{}\n", "x".repeat(1000)),
    );
    assert_eq!(validate(&fits).0, Some(0));
}

#[test]
fn more_windows_than_the_ceiling_are_refused_at_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = MINIMAL.replace("\"1s\"", "\"2000s\"");
    for i in 0..1001 {
        text.push_str(&format!(
            "[[faults.windows]]\nstart = \"{i}s\"\nend = \"{}s\"\n",
            i + 1
        ));
    }
    let file = write(tmp.path(), "windows.toml", &text);
    let (code, err) = validate(&file);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err.trim_end(),
        format!(
            "{}: faults.windows: at most 1000 windows are accepted, got 1001: merge \
             neighbouring windows or split the run",
            file.display()
        )
    );
}

#[test]
fn provider_flags_take_the_addresses_a_scenario_takes() {
    // #11: `--listen localhost:0` was refused although `provider.listen` takes it.
    let mut child = paychaos()
        .args(["provider", "--listen", "localhost:0", "--quiet"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        first.starts_with("paychaos provider listening on http://127.0.0.1:"),
        "{first:?}"
    );
    let tmp = tempfile::tempdir().unwrap();
    for addr in ["0.0.0.0:0", "localhost", "10.0.0.1:0"] {
        let scenario = write(
            tmp.path(),
            "listen.toml",
            &format!("{MINIMAL}[provider]\nlisten = \"{addr}\"\n"),
        );
        let (code, err) = validate(&scenario);
        assert_eq!(code, Some(2), "{addr}: {err}");
        assert!(
            err.contains("provider.listen:") && err.contains("(accepted: a loopback address"),
            "{err}"
        );
        for flag in ["--listen", "--control"] {
            // The bad secret ends the provider should the address pass: no test hangs.
            let out = paychaos()
                .args(["provider", flag, addr, "--webhook-secret", "nope"])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{flag} {addr}: {err}");
            assert!(
                err.contains(&format!("'{addr}' for '{flag} <ADDR>'"))
                    && err.contains("accepted: a loopback address"),
                "{err}"
            );
        }
    }
}

#[test]
fn a_webhook_secret_without_a_key_is_refused_everywhere() {
    // #11: `whsec_` alone was accepted.
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "secret.toml",
        &format!("{MINIMAL}[webhooks]\nsecret = \"whsec_\"\n"),
    );
    let (code, err) = validate(&file);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(r#"webhooks.secret: expected "whsec_" and at least 1 more character"#),
        "{err}"
    );
    let out = paychaos()
        .args([
            "provider",
            "--listen",
            "127.0.0.1:0",
            "--webhook-secret",
            "whsec_",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--webhook-secret: expected \"whsec_\" and at least 1"),
        "{err}"
    );
}
