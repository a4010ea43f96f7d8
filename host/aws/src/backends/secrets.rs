//! Config values that reference secrets, resolved once at cold start: the function's
//! configuration names where a secret lives, never the secret itself.
//! The references are `plugboard_core::config::secret::SecretRef`; any other value is used as
//! written.

use std::collections::BTreeMap;

use aws_config::SdkConfig;

use super::describe;

pub use plugboard_core::config::secret::SecretRef;

/// Replace every referencing value in `config` by the secret; an error names the key and the
/// reference (never a value).
pub async fn resolve(sdk: &SdkConfig, config: &mut BTreeMap<String, String>) -> anyhow::Result<()> {
    let refs: Vec<(String, SecretRef)> =
        config.iter().filter_map(|(k, v)| Some((k.clone(), SecretRef::parse(v)?))).collect();
    if refs.is_empty() {
        return Ok(());
    }
    let ssm = aws_sdk_ssm::Client::new(sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    for (key, reference) in refs {
        let value = match &reference {
            SecretRef::Parameter(name) => parameter(&ssm, name).await,
            SecretRef::Secret { id, field } => secret(&secrets, id, field.as_deref()).await,
        };
        let value = value.map_err(|e| anyhow::anyhow!("config value `{key}` ({}): {e}", config[&key]))?;
        config.insert(key, value);
    }
    Ok(())
}

async fn parameter(client: &aws_sdk_ssm::Client, name: &str) -> Result<String, String> {
    let output = client.get_parameter().name(name).with_decryption(true).send().await.map_err(|e| describe(&e).1)?;
    output.parameter.and_then(|p| p.value).ok_or_else(|| "the parameter has no value".to_string())
}

async fn secret(client: &aws_sdk_secretsmanager::Client, id: &str, field: Option<&str>) -> Result<String, String> {
    let output = client.get_secret_value().secret_id(id).send().await.map_err(|e| describe(&e).1)?;
    let text = output.secret_string.ok_or("the secret has no SecretString (binary secrets are not supported)")?;
    let Some(field) = field else { return Ok(text) };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| format!("the secret is not JSON, so it has no field `{field}`"))?;
    match json.get(field) {
        Some(serde_json::Value::String(value)) => Ok(value.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(format!("the secret's JSON has no field `{field}`")),
    }
}
