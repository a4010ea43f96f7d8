//! Key-value on DynamoDB, in the table layout of Spin's `aws_dynamo` store: one table per
//! logical store, partition key `PK` (string), value `VAL` (binary), version `VER` (number), so
//! a table can be shared with a Spin app.
//!
//! `VER` is an opaque token, new on every write; compare-and-swap and `increment` are
//! conditional writes on it. Reads are strongly consistent, so a guest reads its own writes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};

use super::describe;
use plugboard_core::capabilities::keyvalue::{
    KeyPage, KeyValueBackend, KeyValueTable, KvError, Versioned, next_counter,
};

const PK: &str = "PK";
const VAL: &str = "VAL";
const VER: &str = "VER";
/// DynamoDB's limit on keys in one `BatchGetItem`.
const BATCH_GET: usize = 100;
/// DynamoDB's limit on requests in one `BatchWriteItem`.
const BATCH_WRITE: usize = 25;
/// Rounds of retrying unprocessed batch items (and lost increment races) before giving up.
const MAX_ROUNDS: u32 = 8;

/// DynamoDB tables, one client for all.
#[derive(Clone)]
pub struct DynamoDbKeyValue {
    client: Client,
    page_size: i32,
}

impl DynamoDbKeyValue {
    /// Tables reached through `client`; `list-keys` pages hold at most `page_size` keys.
    pub fn new(client: Client, page_size: i32) -> Self {
        DynamoDbKeyValue { client, page_size }
    }
}

#[async_trait]
impl KeyValueBackend for DynamoDbKeyValue {
    async fn open(&self, table: &str) -> Result<Arc<dyn KeyValueTable>, KvError> {
        // No round trip here: a missing table shows up as `no-such-store` on first use.
        Ok(Arc::new(DynamoDbTable { client: self.client.clone(), table: table.to_string(), page_size: self.page_size }))
    }
}

/// One DynamoDB table.
struct DynamoDbTable {
    client: Client,
    table: String,
    page_size: i32,
}

fn kv_error<E>(err: SdkError<E>) -> KvError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match describe(&err) {
        (Some(code), _) if code == "ResourceNotFoundException" => KvError::NoSuchStore,
        (_, text) => KvError::Other(text),
    }
}

fn is_condition_failure<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

fn key(k: &str) -> AttributeValue {
    AttributeValue::S(k.to_string())
}

/// A fresh version token.
fn new_version() -> AttributeValue {
    AttributeValue::N(uuid::Uuid::new_v4().as_u64_pair().0.to_string())
}

/// Backoff before retry round `round` of unprocessed batch items.
async fn backoff(round: u32) {
    tokio::time::sleep(Duration::from_millis(10 << round.min(6))).await;
}

/// Send `first`, then whatever each reply left unprocessed, backing off between rounds; the
/// results of every round, in order. Gives up after [`MAX_ROUNDS`] retries.
async fn until_processed<T, R, F, Fut>(operation: &str, first: T, mut send: F) -> Result<Vec<R>, KvError>
where
    F: FnMut(T) -> Fut,
    Fut: std::future::Future<Output = Result<(R, Option<T>), KvError>>,
{
    let mut results = Vec::new();
    let mut pending = Some(first);
    let mut round = 0;
    while let Some(request) = pending.take() {
        let (result, rest) = send(request).await?;
        results.push(result);
        pending = rest;
        if pending.is_some() {
            round += 1;
            if round > MAX_ROUNDS {
                return Err(KvError::Other(format!("{operation} left items unprocessed; try again")));
            }
            backoff(round).await;
        }
    }
    Ok(results)
}

fn versioned(mut item: HashMap<String, AttributeValue>) -> Option<Versioned> {
    let value = match item.remove(VAL) {
        Some(AttributeValue::B(blob)) => blob.into_inner(),
        _ => return None,
    };
    // Items written by Spin carry no version: treat them as version 0.
    let version = match item.remove(VER) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    };
    Some(Versioned { value, version })
}

impl DynamoDbTable {
    /// A strongly consistent `GetItem` of `k` for the attributes in `projection`.
    fn get_request(&self, k: &str, projection: &str) -> GetItemFluentBuilder {
        let request = self.client.get_item().table_name(&self.table).key(PK, key(k)).consistent_read(true);
        request.projection_expression(projection)
    }

    /// Write `value` at `k` if its version is still `expected` (`None`: no condition).
    async fn write(&self, k: &str, value: Vec<u8>, expected: Option<Option<u64>>) -> Result<bool, KvError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, key(k))
            .update_expression("SET #val = :val, #ver = :ver")
            .expression_attribute_names("#val", VAL)
            .expression_attribute_names("#ver", VER)
            .expression_attribute_values(":val", AttributeValue::B(Blob::new(value)))
            .expression_attribute_values(":ver", new_version());
        update = match expected {
            None => update,
            Some(None) => {
                update.condition_expression("attribute_not_exists(#pk)").expression_attribute_names("#pk", PK)
            }
            Some(Some(0)) => update
                .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#ver)")
                .expression_attribute_names("#pk", PK),
            Some(Some(version)) => update
                .condition_expression("#ver = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(version.to_string())),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(kv_error(e)),
        }
    }
}

#[async_trait]
impl KeyValueTable for DynamoDbTable {
    async fn get(&self, k: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.get_versioned(k).await?.map(|v| v.value))
    }

    async fn get_versioned(&self, k: &str) -> Result<Option<Versioned>, KvError> {
        let output = self
            .get_request(k, "#val, #ver")
            .expression_attribute_names("#val", VAL)
            .expression_attribute_names("#ver", VER)
            .send()
            .await
            .map_err(kv_error)?;
        Ok(output.item.and_then(versioned))
    }

    async fn set(&self, k: &str, value: Vec<u8>) -> Result<(), KvError> {
        self.write(k, value, None).await.map(|_| ())
    }

    async fn delete(&self, k: &str) -> Result<(), KvError> {
        self.client.delete_item().table_name(&self.table).key(PK, key(k)).send().await.map_err(kv_error)?;
        Ok(())
    }

    async fn exists(&self, k: &str) -> Result<bool, KvError> {
        let output = self.get_request(k, "#pk").expression_attribute_names("#pk", PK).send().await.map_err(kv_error)?;
        Ok(output.item.is_some_and(|item| item.contains_key(PK)))
    }

    async fn list_keys(&self, cursor: Option<String>) -> Result<KeyPage, KvError> {
        let output = self
            .client
            .scan()
            .table_name(&self.table)
            .projection_expression("#pk")
            .expression_attribute_names("#pk", PK)
            .limit(self.page_size)
            .set_exclusive_start_key(cursor.map(|c| HashMap::from([(PK.to_string(), key(&c))])))
            .send()
            .await
            .map_err(kv_error)?;
        let keys = output
            .items()
            .iter()
            .filter_map(|item| match item.get(PK) {
                Some(AttributeValue::S(k)) => Some(k.clone()),
                _ => None,
            })
            .collect();
        let cursor = output.last_evaluated_key().and_then(|last| match last.get(PK) {
            Some(AttributeValue::S(k)) => Some(k.clone()),
            _ => None,
        });
        Ok(KeyPage { keys, cursor })
    }

    async fn increment(&self, k: &str, delta: i64) -> Result<i64, KvError> {
        for _ in 0..MAX_ROUNDS {
            let current = self.get_versioned(k).await?;
            let next = next_counter(k, current.as_ref().map(|v| v.value.as_slice()), delta)?;
            if self.write(k, next.to_string().into_bytes(), Some(current.map(|v| v.version))).await? {
                return Ok(next);
            }
        }
        Err(KvError::Other(format!("increment of `{k}` lost {MAX_ROUNDS} races in a row; try again")))
    }

    async fn swap(&self, k: &str, expected: Option<u64>, value: Vec<u8>) -> Result<bool, KvError> {
        self.write(k, value, Some(expected)).await
    }

    async fn get_many(&self, keys: Vec<String>) -> Result<Vec<(String, Option<Vec<u8>>)>, KvError> {
        let mut found: HashMap<String, Vec<u8>> = HashMap::new();
        for chunk in keys.chunks(BATCH_GET) {
            let wanted = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(|k| HashMap::from([(PK.to_string(), key(k))])).collect()))
                .projection_expression("#pk, #val")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#val", VAL)
                .consistent_read(true)
                .build()
                .map_err(|e| KvError::Other(e.to_string()))?;
            let first = HashMap::from([(self.table.clone(), wanted)]);
            let pages = until_processed("BatchGetItem", first, |request| async move {
                let output =
                    self.client.batch_get_item().set_request_items(Some(request)).send().await.map_err(kv_error)?;
                let items = output.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default();
                Ok((items, output.unprocessed_keys.filter(|u| !u.is_empty())))
            })
            .await?;
            for mut item in pages.into_iter().flatten() {
                if let (Some(AttributeValue::S(k)), Some(AttributeValue::B(v))) = (item.remove(PK), item.remove(VAL)) {
                    found.insert(k, v.into_inner());
                }
            }
        }
        Ok(keys
            .into_iter()
            .map(|k| {
                let v = found.get(&k).cloned();
                (k, v)
            })
            .collect())
    }

    async fn set_many(&self, entries: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        let requests = entries
            .into_iter()
            .map(|(k, v)| {
                let put = PutRequest::builder()
                    .item(PK, key(&k))
                    .item(VAL, AttributeValue::B(Blob::new(v)))
                    .item(VER, new_version())
                    .build()
                    .map_err(|e| KvError::Other(e.to_string()))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, KvError>>()?;
        self.batch_write(requests).await
    }

    async fn delete_many(&self, keys: Vec<String>) -> Result<(), KvError> {
        let requests = keys
            .iter()
            .map(|k| {
                let delete =
                    DeleteRequest::builder().key(PK, key(k)).build().map_err(|e| KvError::Other(e.to_string()))?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<Result<Vec<_>, KvError>>()?;
        self.batch_write(requests).await
    }
}

impl DynamoDbTable {
    /// `BatchWriteItem` in chunks of 25, retrying unprocessed items with backoff.
    async fn batch_write(&self, requests: Vec<WriteRequest>) -> Result<(), KvError> {
        for chunk in requests.chunks(BATCH_WRITE) {
            let first = HashMap::from([(self.table.clone(), chunk.to_vec())]);
            until_processed("BatchWriteItem", first, |request| async move {
                let output =
                    self.client.batch_write_item().set_request_items(Some(request)).send().await.map_err(kv_error)?;
                Ok(((), output.unprocessed_items.filter(|u| !u.is_empty())))
            })
            .await?;
        }
        Ok(())
    }
}
