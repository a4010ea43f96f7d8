//! Guests from S3: `s3://bucket/key`, optionally `?versionId=...` to pin or roll back to one
//! object version.

use aws_sdk_s3::Client;

use super::describe;

pub use plugboard_core::config::location::S3Location;

/// An S3 client for `sdk`; path-style addressing only for an AWS-protocol server on this
/// machine (an endpoint set, as in tests), AWS gets the default.
pub fn client(sdk: &aws_config::SdkConfig) -> Client {
    let local = sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL").is_some();
    Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(local).build())
}

/// One downloaded object.
#[derive(Debug, Clone)]
pub struct S3Object {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its ETag, for conditional re-reads.
    pub etag: Option<String>,
    /// Its version id, in a versioned bucket.
    pub version_id: Option<String>,
}

/// Why an object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The object (or version) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Any other failure, with AWS's code.
    #[error("{0}")]
    Other(String),
}

/// Download the object at `location`.
pub async fn fetch(client: &Client, location: &S3Location) -> Result<S3Object, FetchError> {
    fetch_if_changed(client, location, None).await?.ok_or_else(|| FetchError::Other("304 without a condition".into()))
}

/// Download the object at `location` unless its ETag is still `etag` (then `None`).
pub(crate) async fn fetch_if_changed(
    client: &Client,
    location: &S3Location,
    etag: Option<&str>,
) -> Result<Option<S3Object>, FetchError> {
    let sent = client
        .get_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .set_version_id(location.version_id.clone())
        .set_if_none_match(etag.map(str::to_string))
        .send()
        .await;
    let output = match sent {
        Ok(output) => output,
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            if status == Some(304) && etag.is_some() {
                return Ok(None);
            }
            let (code, text) = describe(&e);
            let missing =
                status == Some(404) || matches!(code.as_deref(), Some("NoSuchKey" | "NoSuchVersion" | "NoSuchBucket"));
            return Err(if missing { FetchError::NotFound(text) } else { FetchError::Other(text) });
        }
    };
    let (etag, version_id) = (output.e_tag.clone(), output.version_id.clone());
    let body = output.body.collect().await.map_err(|e| FetchError::Other(format!("reading the object: {e}")))?;
    Ok(Some(S3Object { bytes: body.into_bytes().to_vec(), etag, version_id }))
}
