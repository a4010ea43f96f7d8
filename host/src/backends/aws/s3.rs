//! Guests from S3: `s3://bucket/key`, optionally `?versionId=...` to pin or roll back to one
//! object version.

use aws_sdk_s3::Client;

use super::describe;

/// A parsed `s3://bucket/key[?versionId=...]` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: String,
    /// The object version, when pinned.
    pub version_id: Option<String>,
}

impl S3Location {
    /// Parse `s3://bucket/key[?versionId=...]`; `None` for anything else.
    pub fn parse(location: &str) -> Option<S3Location> {
        let rest = location.strip_prefix("s3://")?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, key) = path.split_once('/')?;
        if bucket.is_empty() || key.is_empty() {
            return None;
        }
        let version_id = form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "versionId")
            .map(|(_, value)| value.into_owned());
        Some(S3Location { bucket: bucket.to_string(), key: key.to_string(), version_id })
    }
}

/// Download the object at `location`.
pub async fn fetch(client: &Client, location: &S3Location) -> Result<Vec<u8>, String> {
    let output = client
        .get_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .set_version_id(location.version_id.clone())
        .send()
        .await
        .map_err(|e| describe(&e).1)?;
    let body = output.body.collect().await.map_err(|e| format!("reading the object: {e}"))?;
    Ok(body.into_bytes().to_vec())
}
