//! Where a function's guest lives, parsed once: an S3 object or a file.

use std::path::PathBuf;

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

/// Where a guest's bytes live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestLocation {
    /// An S3 object.
    S3(S3Location),
    /// A file: in the deployment package, or on this machine.
    Path(PathBuf),
}

impl GuestLocation {
    /// `s3://bucket/key[?versionId=...]` or a path; an `s3://` text that is not a whole
    /// location is refused, not taken for a path.
    pub fn parse(text: &str) -> Result<GuestLocation, String> {
        if text.starts_with("s3://") {
            return S3Location::parse(text)
                .map(GuestLocation::S3)
                .ok_or_else(|| format!("`{text}` is not s3://bucket/key[?versionId=...]"));
        }
        Ok(GuestLocation::Path(PathBuf::from(text)))
    }

    /// Whether the guest is an S3 object (which a deployment fetches, rather than packages).
    pub fn is_s3(&self) -> bool {
        matches!(self, GuestLocation::S3(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FunctionConfig;

    #[test]
    fn an_s3_text_that_is_no_location_is_refused_not_taken_for_a_path() {
        assert!(GuestLocation::parse("s3://bucket").is_err());
        let versioned = GuestLocation::parse("s3://b/k.wasm?versionId=v1");
        assert!(matches!(&versioned, Ok(GuestLocation::S3(S3Location { version_id: Some(v), .. })) if v == "v1"));
        assert_eq!(GuestLocation::parse("guests/x.wasm"), Ok(GuestLocation::Path("guests/x.wasm".into())));
        let err = FunctionConfig::parse("role = \"http-api\"\nguest = \"s3://nokey\"", "test", true).unwrap_err();
        assert!(err.to_string().contains("guest: `s3://nokey`"), "{err}");
    }
}
