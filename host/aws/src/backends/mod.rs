//! The AWS backends (DynamoDB, SQS, Lambda): clients built once from one `SdkConfig`, errors
//! carrying AWS's codes.

pub mod dynamodb;
pub mod lambda;
pub mod s3;
pub mod secrets;
pub mod sqs;

use aws_config::{BehaviorVersion, Region, SdkConfig};

pub use dynamodb::DynamoDbKeyValue;
pub use lambda::LambdaInvoker;
pub use sqs::SqsQueue;

/// The SDK configuration: the standard chain (environment, profile, Lambda's role), or a fixed
/// endpoint with dummy credentials for an AWS-protocol server on this machine (tests, moto).
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
    match endpoint {
        None => loader.load().await,
        Some(url) => {
            let credentials =
                aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "plugboard-local");
            loader.endpoint_url(url).region(Region::new("us-east-1")).credentials_provider(credentials).load().await
        }
    }
}

/// The one HTTPS client every AWS client shares: rustls with ring (see host/Cargo.toml for why
/// not the SDK's default aws-lc).
fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// `Code: message` from an SDK error, the form guests and logs see.
pub fn describe<E>(err: &aws_sdk_dynamodb::error::SdkError<E>) -> (Option<String>, String)
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    let code = err.code().map(str::to_string);
    let text = match (&code, err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.clone(),
        _ => aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string(),
    };
    (code, text)
}
