//! The run's verdict, one word a CI job can read from `report.json`, and the exit code
//! `paychaos run` ends with for it: the report and the process never disagree.

use serde::{Deserialize, Serialize};

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every gate passed (the verification gate among them, when the scenario sets it).
    Pass,
    /// The run finished, and a gate failed.
    Fail,
    /// The load was cut short by a shutdown signal: the figures cover what was measured.
    Interrupted,
    /// The run finished but its evidence is incomplete (the merchant's final order states
    /// could not be read): nothing can be concluded from it.
    Error,
}

impl Verdict {
    /// The verdict of a run from whether it was interrupted and whether its gates passed.
    pub fn of(interrupted: bool, gates_passed: bool) -> Verdict {
        if interrupted {
            Verdict::Interrupted
        } else if gates_passed {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }

    /// 0 pass, 1 fail, 2 a run that could not be done or was interrupted.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Interrupted | Verdict::Error => 2,
        }
    }

    /// The headline word of the human formats, the JSON word in capitals: `PASS`, `FAIL`,
    /// `INTERRUPTED`, `ERROR`.
    pub fn headline(self) -> String {
        self.as_str().to_ascii_uppercase()
    }

    /// The word in `report.json` (the serde name).
    pub fn as_str(self) -> &'static str {
        crate::domain::label(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_verdict_has_its_word_and_exit_code() {
        let all = [
            (Verdict::Pass, "pass", "PASS", 0),
            (Verdict::Fail, "fail", "FAIL", 1),
            (Verdict::Interrupted, "interrupted", "INTERRUPTED", 2),
            (Verdict::Error, "error", "ERROR", 2),
        ];
        for (v, word, headline, code) in all {
            assert_eq!((v.as_str(), v.headline().as_str()), (word, headline));
            assert_eq!(v.exit_code(), code);
            assert_eq!(serde_json::to_value(v).unwrap(), word);
        }
    }

    #[test]
    fn an_interruption_outranks_the_gates() {
        assert_eq!(Verdict::of(false, true), Verdict::Pass);
        assert_eq!(Verdict::of(false, false), Verdict::Fail);
        assert_eq!(Verdict::of(true, true), Verdict::Interrupted);
        assert_eq!(Verdict::of(true, false), Verdict::Interrupted);
    }
}
