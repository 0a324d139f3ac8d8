//! The forger's return page for a gateway cashier: the trade the cashier URL names, with
//! `trade_status=TRADE_SUCCESS` and a `sign` made with a key the forger guessed (it cannot
//! know the merchant's). A merchant that checks the sign, or queries the trade, is not fooled.

use crate::gateway::CASHIER_PATH;
use crate::signature;

/// The key the forger signs with.
const GUESSED_KEY: &str = "forger_guessed_key";

/// The return page `{origin}/return/{order_id}` with forged success parameters of the trade
/// `cashier_url` names; `None` unless `cashier_url` is a cashier page.
pub fn forged_return(origin: &str, order_id: &str, cashier_url: &str) -> Option<String> {
    let (_, tail) = cashier_url.split_once(CASHIER_PATH)?;
    let trade_no = tail.split('/').next().filter(|t| !t.is_empty())?;
    let mut params = vec![
        ("out_trade_no", order_id.to_string()),
        ("trade_no", trade_no.to_string()),
        ("trade_status", "TRADE_SUCCESS".to_string()),
    ];
    let sign = signature::gateway_sign(GUESSED_KEY, &params);
    params.push(("sign_type", signature::GATEWAY_SIGN_TYPE.to_string()));
    params.push(("sign", sign));
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    Some(format!("{origin}/return/{order_id}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forged_cashier_return_names_the_trade_and_success_with_a_wrong_sign() {
        let url = forged_return(
            "http://127.0.0.1:8080",
            "ord-x-000001",
            "http://127.0.0.1:9/gateway/cashier/Tab12",
        )
        .unwrap();
        assert!(
            url.starts_with("http://127.0.0.1:8080/return/ord-x-000001?out_trade_no=ord-x-000001&trade_no=Tab12&trade_status=TRADE_SUCCESS&sign_type=HMAC-SHA256&sign="),
            "{url}"
        );
        let params: Vec<(String, String)> =
            form_urlencoded::parse(url.split_once('?').unwrap().1.as_bytes())
                .into_owned()
                .collect();
        assert!(signature::gateway_verify(&params, "whsec_merchant").is_err());
        assert_eq!(
            forged_return("http://a", "o", "http://127.0.0.1:9/_challenge/pi_1"),
            None
        );
    }
}
