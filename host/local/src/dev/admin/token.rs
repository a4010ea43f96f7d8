//! The admin token: the dashboard and the admin API are for this machine's user only. Each
//! `plugboard dev` start writes a fresh random token to `<state-dir>/admin-token` (mode 0600,
//! so other local users cannot read it), shows it in the fragment of the banner's dashboard URL
//! (`#token=`: a fragment is never sent to a server nor in a `Referer`), and accepts it only as
//! `Authorization: Bearer <token>` — from `plugboard queue`, `plugboard kv` and the dashboard
//! page, which keeps it in `sessionStorage`. No cookie: cookies are scoped by host, not port,
//! so a cookie for 127.0.0.1 would reach every other local server's pages too. The Invoke API
//! takes no token: the AWS SDK cannot send one.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use plugboard_core::events::http::Request;

/// The token file's name in the state directory.
pub const FILE: &str = "admin-token";

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
    /// [`FILE`] with mode 0600, replacing the previous server's. Written to a new file (never
    /// an existing one, so never through a symlink planted at the name) and renamed over it, so a
    /// reader sees the old token or the new one, whole.
    pub fn create(state_dir: &Path) -> std::io::Result<AdminToken> {
        let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let fresh = state_dir.join(format!(".{FILE}.{}", uuid::Uuid::new_v4().simple()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&fresh)
            .and_then(|mut file| file.write_all(token.as_bytes()))
            .and_then(|()| std::fs::rename(&fresh, state_dir.join(FILE)));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&fresh);
            return Err(e);
        }
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

    /// Whether `request` carries the token as `Authorization: Bearer`.
    pub fn admits(&self, request: &Request) -> bool {
        let bearer = request.header("authorization").and_then(|v| v.strip_prefix("Bearer "));
        bearer.is_some_and(|t| self.matches(t.trim()))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

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
    fn the_file_is_private_replaced_whole_and_the_token_admits_only_itself() {
        let dir = std::env::temp_dir().join(format!("plugboard-token-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        // A symlink planted at the name is replaced, not written through.
        let victim = dir.join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(FILE)).unwrap();
        let token = AdminToken::create(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        let meta = std::fs::symlink_metadata(dir.join(FILE)).unwrap();
        assert!(meta.is_file() && meta.permissions().mode() & 0o777 == 0o600, "a private regular file");
        assert_eq!(AdminToken::read(&dir).unwrap().secret(), token.secret());
        assert_eq!(token.secret().len(), 64);
        assert_ne!(AdminToken::create(&dir).unwrap().secret(), token.secret(), "fresh per start");
        let leftovers =
            std::fs::read_dir(&dir).unwrap().filter(|e| e.as_ref().unwrap().file_name() != "victim").count();
        assert_eq!(leftovers, 1, "no temporary files left");

        let token = AdminToken::read(&dir).unwrap();
        let bearer = format!("Bearer {}", token.secret());
        assert!(token.admits(&request(&[("authorization", &bearer)])));
        assert!(!token.admits(&request(&[])));
        assert!(!token.admits(&request(&[("authorization", "Bearer nope")])));
        let short = format!("Bearer {}", &token.secret()[..63]);
        assert!(!token.admits(&request(&[("authorization", &short)])));
        assert!(!token.admits(&request(&[("cookie", &format!("plugboard_admin={}", token.secret()))])), "no cookie");
        assert!(AdminToken::read(&dir.join("missing")).is_err());
    }
}
