//! `?` in every handler: each import's error converts into what a role's handler fails with —
//! an [`HttpResponse`] (500, the error named), a [`FunctionError`] (typed by the capability)
//! and a `String` (a queue message's retry reason).

use crate::bindings::plugboard::host::{invoke, queue};
use crate::bindings::wasi::config::store as config;
use crate::bindings::wasi::keyvalue::store;
use crate::{FunctionError, HttpResponse};

/// The three conversions for each capability's error type, with the name it is reported by.
macro_rules! converts {
    ($($error:ty => $name:literal),* $(,)?) => {$(
        impl From<$error> for HttpResponse {
            fn from(error: $error) -> HttpResponse {
                HttpResponse::error(500, &format!("{}: {error}", $name))
            }
        }

        impl From<$error> for FunctionError {
            fn from(error: $error) -> FunctionError {
                FunctionError { error_type: $name.to_string(), message: error.to_string() }
            }
        }

        impl From<$error> for String {
            fn from(error: $error) -> String {
                format!("{}: {error}", $name)
            }
        }
    )*};
}

converts!(
    store::Error => "KeyValueError",
    queue::Error => "QueueError",
    invoke::Error => "InvokeError",
    config::Error => "ConfigError",
);
