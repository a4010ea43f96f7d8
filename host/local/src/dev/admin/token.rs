//! The admin token: the dashboard and the admin API are for this machine's user only. Each
//! `plugboard dev` start writes a fresh random token to `<state-dir>/admin-token` (mode 0600,
//! so other local users cannot read it), shows it in the banner's dashboard URL, and accepts it
//! as `Authorization: Bearer <token>` (`plugboard queue`, `plugboard kv`) or as the
//! [`COOKIE`] the dashboard URL swaps it for (`HttpOnly`, `SameSite=Strict`: no other site's
//! page can send it). The Invoke API takes no token: the AWS SDK cannot send one.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use plugboard_core::events::http::Request;

/// The token file's name in the state directory.
pub const FILE: &str = "admin-token";
/// The cookie the dashboard URL's `?token=` is swapped for.
pub const COOKIE: &str = "plugboard_admin";

/// One server's admin token.
#[derive(Clone)]
pub struct AdminToken(String);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

impl AdminToken {
    /// A fresh random token (244 bits from the OS's generator), written to `state_dir`'s
    /// [`FILE`] with mode 0600, replacing the previous server's.
    pub fn create(state_dir: &Path) -> std::io::Result<AdminToken> {
        let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let path = state_dir.join(FILE);
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path)?;
        // An older file keeps its mode when opened: set it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(token.as_bytes())?;
        Ok(AdminToken(token))
    }

    /// The token a running server wrote to `state_dir`, for the tools.
    pub fn read(state_dir: &Path) -> anyhow::Result<AdminToken> {
        let path: PathBuf = state_dir.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            anyhow::anyhow!(
                "no admin token in {} ({e}): is `plugboard dev` running with this state directory? \
                 (--state-dir or PLUGBOARD_STATE_DIR name another)",
                path.display()
            )
        })?;
        Ok(AdminToken(text.trim().to_string()))
    }

    /// The token, to send.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Whether `offered` is this token, compared in constant time.
    pub fn matches(&self, offered: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), offered.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
    }

    /// Whether `request` carries the token, as a bearer token or the dashboard's cookie.
    pub fn admits(&self, request: &Request) -> bool {
        let bearer = request.header("authorization").and_then(|v| v.strip_prefix("Bearer "));
        if bearer.is_some_and(|t| self.matches(t.trim())) {
            return true;
        }
        request
            .headers
            .iter()
            .filter(|(name, _)| name == "cookie")
            .flat_map(|(_, value)| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == COOKIE && self.matches(value))
    }

    /// The `Set-Cookie` value that lets the dashboard page call the admin API.
    pub fn cookie(&self) -> String {
        format!("{COOKIE}={}; Path=/_plugboard/; HttpOnly; SameSite=Strict", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            path: "/_plugboard/queues".into(),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            ..Request::default()
        }
    }

    #[test]
    fn the_file_is_private_and_the_token_admits_only_itself() {
        let dir = std::env::temp_dir().join(format!("plugboard-token-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILE), "old").unwrap();
        std::fs::set_permissions(dir.join(FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
        let token = AdminToken::create(&dir).unwrap();
        let mode = std::fs::metadata(dir.join(FILE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "readable by this user only");
        assert_eq!(AdminToken::read(&dir).unwrap().secret(), token.secret());
        assert_eq!(token.secret().len(), 64);
        assert_ne!(AdminToken::create(&dir).unwrap().secret(), token.secret(), "fresh per start");

        let token = AdminToken::read(&dir).unwrap();
        let bearer = format!("Bearer {}", token.secret());
        assert!(token.admits(&request(&[("authorization", &bearer)])));
        let cookie = format!("theme=dark; {COOKIE}={}", token.secret());
        assert!(token.admits(&request(&[("cookie", &cookie)])));
        assert!(!token.admits(&request(&[])));
        assert!(!token.admits(&request(&[("authorization", "Bearer nope")])));
        let short = format!("{COOKIE}={}", &token.secret()[..63]);
        assert!(!token.admits(&request(&[("cookie", &short)])));
        assert!(token.cookie().contains("SameSite=Strict") && token.cookie().contains("HttpOnly"));
        assert!(AdminToken::read(&dir.join("missing")).is_err());
    }
}
