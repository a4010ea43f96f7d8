//! Gatekeeper's management API (internal-api): create, re-scope, revoke and list the API keys
//! Gatekeeper accepts. Keys are stored only as their sha256 (the key id); the key itself is
//! returned once, at creation.
//!
//! Payloads: `{"action":"create-key","principal":"...","routes":["GET /orders/*"]}`,
//! `{"action":"set-routes","key_id":"...","routes":[...]}`, `{"action":"revoke-key","key_id":"..."}`,
//! `{"action":"list-keys"}`.

use plugboard_guest::serde_json::{Value, json};
use plugboard_guest::store::{self, Bucket};
use plugboard_guest::{FunctionError, InternalHandler, kv, parse_payload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

struct GatekeeperAdmin;

/// One API key's record, as Gatekeeper reads it.
#[derive(Serialize, Deserialize)]
struct ApiKeyRecord {
    principal: String,
    routes: Vec<String>,
    #[serde(default)]
    revoked: bool,
}

#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
enum Command {
    CreateKey { principal: String, routes: Vec<String> },
    SetRoutes { key_id: String, routes: Vec<String> },
    RevokeKey { key_id: String },
    ListKeys,
}

fn store_error(e: impl std::fmt::Debug) -> FunctionError {
    FunctionError::new("StoreError", format!("{e:?}"))
}

fn check_routes(routes: &[String]) -> Result<(), FunctionError> {
    for route in routes {
        let ok = route.split_once(' ').is_some_and(|(m, p)| !m.is_empty() && p.starts_with('/'));
        if !ok {
            return Err(FunctionError::new("ValidationError", format!("route `{route}` is not `METHOD /path`")));
        }
    }
    Ok(())
}

/// Apply `change` to key `key_id`'s record atomically; `NotFound` when there is none.
fn update(bucket: &Bucket, key_id: &str, change: impl Fn(&mut ApiKeyRecord)) -> Result<ApiKeyRecord, FunctionError> {
    let updated = kv::update_json(bucket, &format!("key/{key_id}"), |record: Option<ApiKeyRecord>| {
        record.map(|mut r| {
            change(&mut r);
            r
        })
    });
    updated.map_err(store_error)?.ok_or_else(|| FunctionError::new("NotFound", format!("no API key with id {key_id}")))
}

fn run(command: Command) -> Result<Value, FunctionError> {
    let bucket = store::open("api-keys").map_err(store_error)?;
    match command {
        Command::CreateKey { principal, routes } => {
            check_routes(&routes)?;
            if principal.is_empty() {
                return Err(FunctionError::new("ValidationError", "principal must not be empty"));
            }
            let mut secret = [0u8; 24];
            getrandom::fill(&mut secret).map_err(|e| FunctionError::new("InternalError", e.to_string()))?;
            let key = format!("pk_{}", hex::encode(secret));
            let key_id = hex::encode(Sha256::digest(key.as_bytes()));
            let record = ApiKeyRecord { principal, routes, revoked: false };
            kv::set_json(&bucket, &format!("key/{key_id}"), &record).map_err(store_error)?;
            Ok(json!({ "key": key, "key_id": key_id, "principal": record.principal, "routes": record.routes }))
        }
        // Compare-and-swap updates: a revocation racing a re-scope is never lost.
        Command::SetRoutes { key_id, routes } => {
            check_routes(&routes)?;
            let record = update(&bucket, &key_id, |record| record.routes = routes.clone())?;
            Ok(json!({ "key_id": key_id, "routes": record.routes }))
        }
        Command::RevokeKey { key_id } => {
            update(&bucket, &key_id, |record| record.revoked = true)?;
            Ok(json!({ "key_id": key_id, "revoked": true }))
        }
        Command::ListKeys => {
            let mut keys = Vec::new();
            let mut cursor = None;
            loop {
                let page = bucket.list_keys(cursor.as_deref()).map_err(store_error)?;
                for key in page.keys.iter().filter(|k| k.starts_with("key/")) {
                    if let Some(r) = kv::get_json::<ApiKeyRecord>(&bucket, key).map_err(store_error)? {
                        keys.push(json!({ "key_id": &key[4..], "principal": r.principal, "routes": r.routes, "revoked": r.revoked }));
                    }
                }
                match page.cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            Ok(json!({ "keys": keys }))
        }
    }
}

impl InternalHandler for GatekeeperAdmin {
    fn handle(payload: String) -> Result<String, FunctionError> {
        let command: Command = parse_payload(&payload)?;
        Ok(run(command)?.to_string())
    }
}

plugboard_guest::internal_api!(GatekeeperAdmin);
