//! Test payment methods: which outcome a card's payment method id forces (Stripe's
//! `pm_card_chargeDeclinedInsufficientFunds`, `pm_card_radarBlock`, 3DS cards, …), and the
//! neutral decline codes a charge can fail with. Pure; ordinary cards leave it to chaos.

use crate::domain::FailReason;
use crate::scenario::customers::ANOTHER_CARD;

/// Why a charge was declined, finer than [`FailReason`] (the dialect words each one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeclineCode {
    /// The issuer declined without a more specific reason (`generic_decline`).
    Generic,
    InsufficientFunds,
    /// Blocked by the provider's risk control before reaching the network (Radar block).
    RiskBlock,
    LostCard,
    StolenCard,
    ExpiredCard,
    IncorrectCvc,
    /// The card could not be processed (Stripe `processing_error`).
    ProcessingError,
    /// The customer failed the 3D Secure challenge
    /// (`payment_intent_authentication_failure`); another card may be tried.
    AuthenticationFailure,
}

impl DeclineCode {
    /// What the customer should be told: only insufficient funds and risk blocks have a
    /// reason of their own; every other card decline is a plain decline.
    pub fn reason(self) -> FailReason {
        match self {
            DeclineCode::InsufficientFunds => FailReason::InsufficientFunds,
            DeclineCode::RiskBlock => FailReason::RiskBlocked,
            _ => FailReason::Declined,
        }
    }

    /// The code for a chaos-decided reason.
    pub fn from_reason(reason: FailReason) -> DeclineCode {
        match reason {
            FailReason::InsufficientFunds => DeclineCode::InsufficientFunds,
            FailReason::RiskBlocked => DeclineCode::RiskBlock,
            FailReason::ProviderError => DeclineCode::ProcessingError,
            FailReason::Declined => DeclineCode::Generic,
        }
    }
}

/// What a payment method forces when its charge executes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestCard {
    /// An ordinary card (`pm_card_visa`, `pm_card_mastercard`, any other id): chaos decides.
    Ordinary,
    /// Always declined with this code, whatever the chaos plan says.
    Decline(DeclineCode),
    /// Needs 3D Secure authentication: the intent goes to `requires_action`.
    RequiresAction,
    /// The card customers pay an order again with after a decline
    /// ([`ANOTHER_CARD`]): another card from the customer's wallet, so none of the
    /// order's seeded card fate (a sticky decline, a forced challenge), which belongs to the
    /// first card, reaches it. Transport faults still do.
    AnotherCard,
}

/// The outcome `payment_method` forces. Both spellings seen in real code are accepted:
/// `pm_card_chargeDeclined…` and `pm_card_visa_chargeDeclined…`, and the `tok_…` forms.
pub fn test_card(payment_method: Option<&str>) -> TestCard {
    let Some(pm) = payment_method else {
        return TestCard::Ordinary;
    };
    if pm == ANOTHER_CARD {
        return TestCard::AnotherCard;
    }
    let name = ["pm_card_visa_", "pm_card_", "tok_visa_", "tok_"]
        .iter()
        .find_map(|p| pm.strip_prefix(p))
        .unwrap_or(pm);
    let decline = |c| TestCard::Decline(c);
    match name {
        "chargeDeclined" => decline(DeclineCode::Generic),
        "chargeDeclinedInsufficientFunds" => decline(DeclineCode::InsufficientFunds),
        "radarBlock" | "chargeDeclinedFraudulent" => decline(DeclineCode::RiskBlock),
        "chargeDeclinedLostCard" => decline(DeclineCode::LostCard),
        "chargeDeclinedStolenCard" => decline(DeclineCode::StolenCard),
        "chargeDeclinedExpiredCard" => decline(DeclineCode::ExpiredCard),
        "chargeDeclinedIncorrectCvc" => decline(DeclineCode::IncorrectCvc),
        "chargeDeclinedProcessingError" => decline(DeclineCode::ProcessingError),
        "threeDSecure2Required" | "threeDSecureRequired" | "authenticationRequired" => {
            TestCard::RequiresAction
        }
        _ => TestCard::Ordinary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decline_cards_force_their_code_in_every_spelling() {
        for (pm, code) in [
            ("pm_card_chargeDeclined", DeclineCode::Generic),
            ("pm_card_visa_chargeDeclined", DeclineCode::Generic),
            (
                "pm_card_chargeDeclinedInsufficientFunds",
                DeclineCode::InsufficientFunds,
            ),
            (
                "pm_card_visa_chargeDeclinedInsufficientFunds",
                DeclineCode::InsufficientFunds,
            ),
            (
                "tok_chargeDeclinedInsufficientFunds",
                DeclineCode::InsufficientFunds,
            ),
            ("pm_card_radarBlock", DeclineCode::RiskBlock),
            ("pm_card_chargeDeclinedFraudulent", DeclineCode::RiskBlock),
            ("tok_chargeDeclinedFraudulent", DeclineCode::RiskBlock),
            (
                "pm_card_chargeDeclinedExpiredCard",
                DeclineCode::ExpiredCard,
            ),
            (
                "pm_card_chargeDeclinedIncorrectCvc",
                DeclineCode::IncorrectCvc,
            ),
            (
                "pm_card_chargeDeclinedProcessingError",
                DeclineCode::ProcessingError,
            ),
            ("pm_card_chargeDeclinedLostCard", DeclineCode::LostCard),
            ("pm_card_chargeDeclinedStolenCard", DeclineCode::StolenCard),
        ] {
            assert_eq!(test_card(Some(pm)), TestCard::Decline(code), "{pm}");
        }
    }

    #[test]
    fn three_d_secure_cards_require_action_and_ordinary_cards_leave_it_to_chaos() {
        for pm in [
            "pm_card_threeDSecure2Required",
            "pm_card_authenticationRequired",
            "pm_card_threeDSecureRequired",
        ] {
            assert_eq!(test_card(Some(pm)), TestCard::RequiresAction, "{pm}");
        }
        for pm in [
            Some("pm_card_visa"),
            Some("pm_card_mastercard"),
            Some("pm_1Q2w3e"),
            Some("tok_visa"),
            Some("pm_card_chargedeclined"),
            None,
        ] {
            assert_eq!(test_card(pm), TestCard::Ordinary, "{pm:?}");
        }
        assert_eq!(test_card(Some(ANOTHER_CARD)), TestCard::AnotherCard);
    }

    #[test]
    fn only_funds_and_risk_have_their_own_reason() {
        assert_eq!(
            DeclineCode::InsufficientFunds.reason(),
            FailReason::InsufficientFunds
        );
        assert_eq!(DeclineCode::RiskBlock.reason(), FailReason::RiskBlocked);
        for c in [
            DeclineCode::Generic,
            DeclineCode::ExpiredCard,
            DeclineCode::IncorrectCvc,
            DeclineCode::ProcessingError,
            DeclineCode::LostCard,
        ] {
            assert_eq!(c.reason(), FailReason::Declined, "{c:?}");
        }
        for r in FailReason::ALL {
            let back = DeclineCode::from_reason(r).reason();
            if r != FailReason::ProviderError {
                assert_eq!(back, r);
            }
        }
    }
}
