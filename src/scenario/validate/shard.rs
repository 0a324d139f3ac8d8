//! The distributed part of validation: `[shard]` (which part of the schedule this run
//! sends) and `[provider] kind = "external"` (a provider the run does not start, which a
//! merchant the run does not start either pays at). Extends the parent's `Checker`.

use super::Checker;
use crate::net::LoopbackUrl;
use crate::scenario::raw::{RawScenario, RawShard};
use crate::scenario::Shard;

impl Checker {
    /// `[shard] index/count`: both or neither, `0 <= index < count`.
    pub(super) fn shard(&mut self, raw: &RawShard) -> Shard {
        let (index, count) = match (raw.index, raw.count) {
            (None, None) => return Shard::WHOLE,
            (Some(i), Some(n)) => (i, n),
            (None, Some(_)) => {
                self.missing("shard.index", "the shard's number, 0 to shard.count - 1");
                return Shard::WHOLE;
            }
            (Some(_), None) => {
                self.missing(
                    "shard.count",
                    "how many shards share the schedule, 1 or more",
                );
                return Shard::WHOLE;
            }
        };
        let Some(count) = self.integer("shard.count", count, 1, i64::MAX) else {
            return Shard::WHOLE;
        };
        let Some(index) = self.integer("shard.index", index, 0, count - 1) else {
            return Shard::WHOLE;
        };
        Shard::new(index as u64, count as u64).unwrap_or(Shard::WHOLE)
    }

    /// `provider.kind` and `provider.url`: the base URL of an external provider, `None` for
    /// the embedded one. An external provider sends its webhooks to a merchant it was told
    /// about at its start, so the merchant must be external too.
    pub(super) fn provider_kind(
        &mut self,
        raw: &RawScenario,
        merchant_external: bool,
    ) -> Option<String> {
        let p = &raw.provider;
        match p.kind.as_deref() {
            None | Some("embedded") => {
                if p.url.is_some() {
                    self.report(
                        "provider.url",
                        "belongs to provider.kind = \"external\" (the embedded provider listens on provider.listen)",
                    );
                }
                None
            }
            Some("external") => {
                if p.listen.is_some() {
                    self.report(
                        "provider.listen",
                        "belongs to the embedded provider; an external one is reached at provider.url",
                    );
                }
                if !merchant_external {
                    self.report(
                        "provider.kind",
                        "\"external\" needs [merchant] kind = \"external\": the provider sends its \
                         webhooks to a merchant served alone (`paychaos merchant`), not to one the run starts",
                    );
                }
                let Some(url) = p.url.as_deref() else {
                    self.missing(
                        "provider.url",
                        "the external provider's base URL, e.g. \"http://127.0.0.1:12111\"",
                    );
                    return None;
                };
                match LoopbackUrl::parse(url) {
                    Ok(_) => Some(url.trim_end_matches('/').to_string()),
                    Err(e) => {
                        self.report("provider.url", e.to_string());
                        None
                    }
                }
            }
            Some(k) => {
                self.report(
                    "provider.kind",
                    format!(r#"expected "embedded" or "external", got {k:?}"#),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::validate::tests::ok;
    use crate::scenario::Scenario;

    const BASE: &str =
        "name = \"x\"\n[load]\nprofile = \"constant\"\nrate = 1\nduration = \"1s\"\n";

    fn problems(text: &str) -> Vec<(String, String)> {
        Scenario::from_toml_str(text, "t")
            .unwrap_err()
            .problems
            .into_iter()
            .map(|p| (p.path, p.message))
            .collect()
    }

    #[test]
    fn a_shard_is_read_and_a_bad_one_named_with_its_key() {
        let s = ok(&format!("{BASE}[shard]\nindex = 2\ncount = 3\n"));
        assert_eq!(s.shard.to_string(), "2/3");
        assert_eq!(ok(BASE).shard.to_string(), "0/1");
        let p = problems(&format!("{BASE}[shard]\nindex = 3\ncount = 3\n"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "shard.index");
        let p = problems(&format!("{BASE}[shard]\ncount = 3\n"));
        assert_eq!(p[0].0, "shard.index", "{p:?}");
    }

    #[test]
    fn an_external_provider_needs_its_url_and_an_external_merchant() {
        let p = problems(&format!("{BASE}[provider]\nkind = \"external\"\n"));
        let paths: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(paths, ["provider.kind", "provider.url"], "{p:?}");
        let p = problems(&format!(
            "{BASE}[provider]\nkind = \"external\"\nurl = \"http://10.0.0.1:1\"\n"
        ));
        assert!(p.iter().any(|(k, _)| k == "provider.url"), "{p:?}");
    }
}
