//! Which addresses paychaos may serve on and send to: this machine's loopback, the rule
//! everywhere by default, or, opted into with `PAYCHAOS_NETWORK=cluster`, any address and
//! host name, so that pods of a cluster can listen on their own addresses and reach each
//! other by Service name. Read once per process; [`check_env`] refuses a value it does not
//! know before anything starts.

use std::sync::OnceLock;

/// The environment variable that opts into cluster addresses.
pub const NETWORK_ENV: &str = "PAYCHAOS_NETWORK";

/// Its accepted values, for messages.
pub const NETWORK_FORM: &str = "loopback (the default) or cluster";

/// Where addresses may point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// 127.0.0.0/8, `localhost` and `[::1]` only.
    Loopback,
    /// Any IP address; host names are looked up once, when the address is read.
    Cluster,
}

/// The value of [`NETWORK_ENV`] read as a [`Network`]; unset or empty is loopback.
pub fn from_env_value(value: Option<&str>) -> Result<Network, String> {
    match value.map(str::trim) {
        None | Some("") | Some("loopback") => Ok(Network::Loopback),
        Some("cluster") => Ok(Network::Cluster),
        Some(other) => Err(format!(
            "{NETWORK_ENV}='{other}' is not a network (accepted: {NETWORK_FORM})"
        )),
    }
}

fn read() -> Result<Network, String> {
    match std::env::var(NETWORK_ENV) {
        Ok(v) => from_env_value(Some(&v)),
        Err(std::env::VarError::NotPresent) => Ok(Network::Loopback),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!(
            "{NETWORK_ENV} is not valid text (accepted: {NETWORK_FORM})"
        )),
    }
}

static NETWORK: OnceLock<Result<Network, String>> = OnceLock::new();

/// The process's network, or why `PAYCHAOS_NETWORK` is refused: commands check it first.
pub fn check_env() -> Result<Network, String> {
    NETWORK.get_or_init(read).clone()
}

/// The process's network (loopback when the variable is refused: [`check_env`] has stopped
/// the command before any address is read).
pub fn network() -> Network {
    check_env().unwrap_or(Network::Loopback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_and_cluster_are_networks() {
        assert_eq!(from_env_value(None), Ok(Network::Loopback));
        assert_eq!(from_env_value(Some("")), Ok(Network::Loopback));
        assert_eq!(from_env_value(Some("loopback")), Ok(Network::Loopback));
        assert_eq!(from_env_value(Some("cluster")), Ok(Network::Cluster));
        let err = from_env_value(Some("internet")).unwrap_err();
        assert_eq!(
            err,
            "PAYCHAOS_NETWORK='internet' is not a network (accepted: loopback (the default) or cluster)"
        );
    }
}
