//! One behaviour suite for every key-value backend: in-memory, embedded, and DynamoDB over the
//! wire against moto's and dynalite's servers on 127.0.0.1.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use common::{aws, call, config, dynalite, dynamodb_table, guest, runtime};
use plugboard::backends::aws::DynamoDbKeyValue;
use plugboard::backends::local::LocalInvoker;
use plugboard::backends::memory::{MemoryKeyValue, MemoryQueue};
use plugboard::capabilities::keyvalue::{KeyValueBackend, KvError};
use plugboard::function::{Backends, Function};
use plugboard::runtime::Guest;
use serde_json::json;

/// Page size used for DynamoDB here, small so pagination is exercised.
const DYNAMO_PAGE: i32 = 25;

async fn behaves_like_a_key_value_store(backend: Arc<dyn KeyValueBackend>, table: &str) {
    let t = backend.open(table).await.unwrap();
    assert_eq!(t.get("a").await.unwrap(), None);
    assert!(!t.exists("a").await.unwrap());
    t.set("a", b"1".to_vec()).await.unwrap();
    assert_eq!(t.get("a").await.unwrap(), Some(b"1".to_vec()));
    assert!(t.exists("a").await.unwrap());
    t.set("a", b"2".to_vec()).await.unwrap();
    assert_eq!(t.get("a").await.unwrap(), Some(b"2".to_vec()));
    t.delete("a").await.unwrap();
    t.delete("a").await.unwrap();
    assert_eq!(t.get("a").await.unwrap(), None);

    // Compare-and-swap on versions.
    assert!(t.swap("c", None, b"first".to_vec()).await.unwrap(), "create when absent");
    assert!(!t.swap("c", None, b"again".to_vec()).await.unwrap(), "create fails when present");
    let seen = t.get_versioned("c").await.unwrap().unwrap();
    assert_eq!(seen.value, b"first");
    t.set("c", b"someone else".to_vec()).await.unwrap();
    assert!(!t.swap("c", Some(seen.version), b"mine".to_vec()).await.unwrap(), "stale version loses");
    let now = t.get_versioned("c").await.unwrap().unwrap();
    assert_ne!(now.version, seen.version, "every write changes the version");
    assert!(t.swap("c", Some(now.version), b"mine".to_vec()).await.unwrap());
    assert_eq!(t.get("c").await.unwrap(), Some(b"mine".to_vec()));

    // Counters, as decimal text.
    assert_eq!(t.increment("n", 5).await.unwrap(), 5);
    assert_eq!(t.increment("n", -7).await.unwrap(), -2);
    assert_eq!(t.get("n").await.unwrap(), Some(b"-2".to_vec()));
    t.set("text", b"abc".to_vec()).await.unwrap();
    assert!(matches!(t.increment("text", 1).await, Err(KvError::Other(m)) if m.contains("not a counter")));
    // Batches past DynamoDB's chunk sizes (25 writes, 100 reads), and listing past one page.
    let keys: Vec<String> = (0..260).map(|i| format!("k{i:03}")).collect();
    t.set_many(keys.iter().map(|k| (k.clone(), k.clone().into_bytes())).collect()).await.unwrap();
    let mut wanted: Vec<String> = keys[..130].to_vec();
    wanted.insert(7, "missing".into());
    let got = t.get_many(wanted.clone()).await.unwrap();
    assert_eq!(got.len(), wanted.len());
    for (k, v) in &got {
        assert_eq!(v.as_deref(), (k != "missing").then_some(k.as_bytes()), "{k}");
    }
    assert_eq!(got.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), wanted, "order kept");
    let (mut listed, mut pages, mut cursor) = (HashSet::new(), 0, None);
    loop {
        let page = t.list_keys(cursor).await.unwrap();
        pages += 1;
        for k in page.keys {
            assert!(listed.insert(k), "no key twice");
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert!(pages > 2, "{pages} pages");
    assert_eq!(listed.len(), 260 + 3, "the batch plus c, n and text");
    t.delete_many(keys[..60].to_vec()).await.unwrap();
    assert_eq!(t.get("k059").await.unwrap(), None);
    assert_eq!(t.get("k060").await.unwrap(), Some(b"k060".to_vec()));
    // One counter rule everywhere: decimal text exactly as `increment` writes it.
    for odd in [&b" 7"[..], b"7 ", b"+7"] {
        t.set("odd", odd.to_vec()).await.unwrap();
        assert!(
            matches!(t.increment("odd", 1).await, Err(KvError::Other(m)) if m.contains("not a counter")),
            "{odd:?}"
        );
    }
    t.set("seven", b"7".to_vec()).await.unwrap();
    assert_eq!(t.increment("seven", 1).await.unwrap(), 8);

    // A key deleted and written again gets a version no earlier snapshot has (no ABA).
    t.set("aba", b"1".to_vec()).await.unwrap();
    let before = t.get_versioned("aba").await.unwrap().unwrap();
    t.delete("aba").await.unwrap();
    t.set("aba", b"2".to_vec()).await.unwrap();
    assert!(
        !t.swap("aba", Some(before.version), b"stale".to_vec()).await.unwrap(),
        "a stale version loses after delete + set"
    );
    assert_eq!(t.get("aba").await.unwrap(), Some(b"2".to_vec()));
}

async fn dynamodb() -> (aws_sdk_dynamodb::Client, DynamoDbKeyValue) {
    let client = aws_sdk_dynamodb::Client::new(&aws().await);
    (client.clone(), DynamoDbKeyValue::new(client, DYNAMO_PAGE))
}

#[tokio::test]
async fn memory_backend_behaves() {
    let kv = MemoryKeyValue::new();
    kv.create_table("t");
    behaves_like_a_key_value_store(Arc::new(kv), "t").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_backend_behaves() {
    use plugboard::backends::embedded::{EmbeddedDb, EmbeddedKeyValue};
    let dir = std::env::temp_dir().join(format!("plugboard-kv-{}", uuid::Uuid::new_v4().simple()));
    let kv = EmbeddedKeyValue::new(EmbeddedDb::open(&dir, false).unwrap()).with_page_size(DYNAMO_PAGE as usize);
    kv.create_table("t").await.unwrap();
    assert!(matches!(kv.open("other").await.err(), Some(KvError::NoSuchStore)));
    behaves_like_a_key_value_store(Arc::new(kv), "t").await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn dynamodb_backend_behaves() {
    let (client, kv) = dynamodb().await;
    let table = dynamodb_table(&client, "suite").await;
    behaves_like_a_key_value_store(Arc::new(kv), &table).await;
}

#[tokio::test]
async fn dynamodb_backend_behaves_on_dynalite() {
    let client = aws_sdk_dynamodb::Client::new(&dynalite().await);
    let table = dynamodb_table(&client, "suite").await;
    behaves_like_a_key_value_store(Arc::new(DynamoDbKeyValue::new(client, DYNAMO_PAGE)), &table).await;
}

#[tokio::test]
async fn dynamodb_uses_spins_layout_and_reads_spin_written_items() {
    let (client, kv) = dynamodb().await;
    let table = dynamodb_table(&client, "layout").await;
    let t = kv.open(&table).await.unwrap();
    t.set("mine", b"value".to_vec()).await.unwrap();
    let item = client.get_item().table_name(&table).key("PK", AttributeValue::S("mine".into())).send().await.unwrap();
    let item = item.item.unwrap();
    assert_eq!(item["VAL"], AttributeValue::B(Blob::new(b"value".to_vec())));
    assert!(matches!(item["VER"], AttributeValue::N(_)));

    // An item as Spin writes it: no version.
    client
        .put_item()
        .table_name(&table)
        .item("PK", AttributeValue::S("spin".into()))
        .item("VAL", AttributeValue::B(Blob::new(b"41".to_vec())))
        .send()
        .await
        .unwrap();
    let seen = t.get_versioned("spin").await.unwrap().unwrap();
    assert_eq!((seen.value.as_slice(), seen.version), (b"41".as_slice(), 0));
    assert_eq!(t.increment("spin", 1).await.unwrap(), 42);
    assert!(!t.swap("spin", Some(0), b"stale".to_vec()).await.unwrap(), "version 0 is gone once we wrote");
}

#[tokio::test]
async fn dynamodb_missing_table_is_no_such_store() {
    let (_, kv) = dynamodb().await;
    let t = kv.open("table-that-was-never-created").await.unwrap();
    assert!(matches!(t.get("k").await, Err(KvError::NoSuchStore)));
    assert!(matches!(t.set("k", b"v".to_vec()).await, Err(KvError::NoSuchStore)));
}

#[tokio::test]
async fn a_guest_runs_unchanged_on_dynamodb() {
    let (client, kv) = dynamodb().await;
    let table = dynamodb_table(&client, "guest").await;
    let mut probe = config("role = \"internal-api\"");
    probe.grants.stores.insert("data".into(), table.clone());
    probe.grants.stores.insert("gone".into(), "never-created".into());
    let backends = Backends {
        keyvalue: Arc::new(kv),
        queue: Arc::new(MemoryQueue::new()),
        invoker: Arc::new(LocalInvoker::new()),
        http: common::no_outbound_http(),
    };
    let loaded = Guest::load(&runtime(), &guest("chaos"), probe.role).unwrap();
    let f = Function::new("probe", probe, runtime(), loaded, backends);
    let answer = call(
        &f,
        json!({ "ops": [
        { "op": "kv.set", "store": "data", "key": "a", "value": "1" },
        { "op": "kv.get", "store": "data", "key": "a" },
        { "op": "kv.cas", "store": "data", "key": "a", "value": "mine", "interfere": "theirs" },
        { "op": "kv.increment", "store": "data", "key": "n", "delta": 3 },
        { "op": "kv.get", "store": "gone", "key": "a" },
    ] }),
    )
    .await
    .unwrap();
    let r = answer["results"].as_array().unwrap();
    assert_eq!(r[0], "ok");
    assert_eq!(r[1], "1");
    assert_eq!(r[2], json!({ "before": "1", "swapped": false, "now": "theirs" }));
    assert_eq!(r[3], 3);
    assert!(r[4]["error"].as_str().unwrap().ends_with("NoSuchStore"), "{}", r[4]);
}
