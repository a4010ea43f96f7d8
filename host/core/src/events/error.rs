//! The function error a role answers with, typed by why it failed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an invocation failed: Lambda's `errorType`, one variant per reason the host gives and
/// one for a guest's own type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorType {
    /// The event could not be used by this role.
    InvalidEvent,
    /// The guest's answer cannot be turned into the role's response.
    InvalidResponse,
    /// The response is over Lambda's limit.
    ResponseTooLarge,
    /// A REST authorizer refused without a decision: API Gateway answers 401 for exactly this.
    Unauthorized,
    /// The guest trapped, ran out of time or memory, or could not be instantiated.
    GuestFailed,
    /// An `internal-api` guest's own `error-type` (never taken for one of the host's: a guest
    /// naming its error `Unauthorized` does not make an authorizer refuse).
    Guest(String),
}

impl ErrorType {
    /// The name Lambda reports.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorType::InvalidEvent => "InvalidEvent",
            ErrorType::InvalidResponse => "InvalidResponse",
            ErrorType::ResponseTooLarge => "ResponseTooLarge",
            ErrorType::Unauthorized => "Unauthorized",
            ErrorType::GuestFailed => "GuestFailed",
            ErrorType::Guest(name) => name,
        }
    }

    /// The type a reported name stands for (what a caller reads back from Lambda).
    pub(crate) fn from_reported(name: &str) -> ErrorType {
        match name {
            "InvalidEvent" => ErrorType::InvalidEvent,
            "InvalidResponse" => ErrorType::InvalidResponse,
            "ResponseTooLarge" => ErrorType::ResponseTooLarge,
            "Unauthorized" => ErrorType::Unauthorized,
            "GuestFailed" => ErrorType::GuestFailed,
            other => ErrorType::Guest(other.to_string()),
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ErrorType {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorType {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<ErrorType> for String {
    fn from(error_type: ErrorType) -> String {
        match error_type {
            ErrorType::Guest(name) => name,
            other => other.as_str().to_string(),
        }
    }
}

impl Serialize for ErrorType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(ErrorType::from_reported(&name))
    }
}

/// A Lambda function error: what the Runtime API's `/error` endpoint and Invoke report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{error_type}: {error_message}")]
pub struct FunctionError {
    /// Why, e.g. [`ErrorType::InvalidEvent`] or a guest's own `error-type`.
    pub error_type: ErrorType,
    /// What went wrong.
    pub error_message: String,
}

impl FunctionError {
    /// An error of `error_type` saying `message`.
    pub fn new(error_type: ErrorType, message: impl fmt::Display) -> Self {
        FunctionError { error_type, error_message: message.to_string() }
    }

    /// The event could not be used by this role.
    pub(crate) fn invalid_event(message: impl fmt::Display) -> Self {
        Self::new(ErrorType::InvalidEvent, message)
    }

    /// The host's own refusal of a REST authorizer call (API Gateway's 401).
    pub fn is_unauthorized(&self) -> bool {
        self.error_type == ErrorType::Unauthorized
    }
}
