//! Serde structs that mirror the scenario TOML exactly; nothing is checked here.
