//! How a config value names a secret kept in AWS, in both directions: the manifest writes the
//! reference (`SecretRef` displayed), the bootstrap reads it back (`SecretRef::parse`) and
//! resolves it at cold start.
//!
//! | value | names |
//! |---|---|
//! | `ssm:/path/name` | an SSM Parameter Store parameter (SecureString decrypted) |
//! | `secretsmanager:ID` | a Secrets Manager secret's `SecretString` (ID: name or ARN) |
//! | `secretsmanager:ID#field` | one string field of a JSON `SecretString` |

use std::fmt;

/// A config value that names a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An SSM Parameter Store parameter.
    Parameter(String),
    /// A Secrets Manager secret, optionally one field of its JSON.
    Secret {
        /// Name or ARN.
        id: String,
        /// The JSON field to take, if any.
        field: Option<String>,
    },
}

impl SecretRef {
    /// The reference in `value`, if it is one.
    pub fn parse(value: &str) -> Option<SecretRef> {
        if let Some(name) = value.strip_prefix("ssm:") {
            return Some(SecretRef::Parameter(name.to_string()));
        }
        value.strip_prefix("secretsmanager:").map(SecretRef::secrets_manager)
    }
}

impl SecretRef {
    /// A Secrets Manager reference from `ID` or `ID#field` (as the manifest writes it).
    pub fn secrets_manager(text: &str) -> SecretRef {
        // ARNs contain `:` but never `#`, so `#` separates the field.
        match text.split_once('#') {
            Some((id, field)) => SecretRef::Secret { id: id.to_string(), field: Some(field.to_string()) },
            None => SecretRef::Secret { id: text.to_string(), field: None },
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Parameter(name) => write!(f, "ssm:{name}"),
            SecretRef::Secret { id, field: None } => write!(f, "secretsmanager:{id}"),
            SecretRef::Secret { id, field: Some(field) } => write!(f, "secretsmanager:{id}#{field}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_reads_back_as_written() {
        let arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:app-jwt";
        for reference in [
            SecretRef::Parameter("/app/jwt".into()),
            SecretRef::secrets_manager(arn),
            SecretRef::secrets_manager(&format!("{arn}#key")),
        ] {
            assert_eq!(SecretRef::parse(&reference.to_string()), Some(reference.clone()), "{reference}");
        }
        assert_eq!(SecretRef::parse("plain value"), None);
    }
}
