//! What an operator sees of a function on Lambda: one CloudWatch EMF document per invocation on
//! stdout, checked against the EMF specification's rules and against what really happened, and
//! JSON log lines on stderr carrying the invocation's ids.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};

use super::{Lambda, chaos, common};

/// The JSON objects written one a line to `path`.
pub(super) fn json_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))).collect()
}

/// The EMF specification's rules for one document: `_aws.Timestamp` in epoch milliseconds, one
/// or more metric directives each with a namespace, dimension sets of at most 30 names that are
/// root string members, at most 100 metric definitions with a name, a known unit and a root
/// value that is a number or at most 100 numbers.
fn check_emf(doc: &Value) {
    let aws = &doc["_aws"];
    let timestamp = aws["Timestamp"].as_u64().expect("_aws.Timestamp: integer epoch milliseconds");
    assert!(timestamp > 1_600_000_000_000, "{timestamp}");
    let directives = aws["CloudWatchMetrics"].as_array().expect("_aws.CloudWatchMetrics: array");
    assert!(!directives.is_empty());
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace");
        assert!((1..=255).contains(&namespace.len()));
        for set in directive["Dimensions"].as_array().expect("Dimensions: array of sets") {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30);
            for name in set {
                let name = name.as_str().expect("a dimension name is a string");
                assert!(doc[name].is_string(), "dimension {name} must be a root string member");
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics: array");
        assert!(metrics.len() <= 100);
        for metric in metrics {
            let name = metric["Name"].as_str().expect("Name");
            assert!((1..=255).contains(&name.len()));
            let unit = metric["Unit"].as_str().unwrap_or("None");
            assert!(["Count", "Milliseconds", "None"].contains(&unit), "{unit}");
            match &doc[name] {
                Value::Number(_) => {}
                Value::Array(values) => assert!(values.len() <= 100 && values.iter().all(Value::is_number)),
                other => panic!("metric {name} has no numeric root member: {other}"),
            }
        }
    }
}

/// One metric's value in a document (`null` when absent).
fn value(doc: &Value, name: &str) -> Value {
    doc.get(name).cloned().unwrap_or(Value::Null)
}

/// A fresh folder for one test's captured output.
pub(super) fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plugboard-{label}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(super) fn file(path: &Path) -> Stdio {
    Stdio::from(std::fs::File::create(path).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn each_invocation_writes_one_emf_document_that_matches_its_outcome() {
    let dir = scratch("emf");
    let (stdout, stderr) = (dir.join("stdout"), dir.join("stderr"));
    let mut env = chaos("queue-worker");
    env.push(("PLUGBOARD_METRICS_NAMESPACE", "PlugboardTest".into()));
    let worker = Lambda::start_writing(&env, file(&stdout), file(&stderr));
    let batch = common::sqs_event("arn:aws:sqs:us-east-1:1:q", &["ok", "fail", "loop"]);
    assert_eq!(common::failed_ids(&worker.invoke(&batch).unwrap()), ["msg-1", "msg-2"]);
    let batch = common::sqs_event("arn:aws:sqs:us-east-1:1:q", &["ok"]);
    assert_eq!(common::failed_ids(&worker.invoke(&batch).unwrap()), Vec::<String>::new());

    let docs = json_lines(&stdout);
    assert_eq!(docs.len(), 2, "one document per invocation, nothing else on stdout: {docs:?}");
    docs.iter().for_each(check_emf);
    let (first, second) = (&docs[0], &docs[1]);
    let directive = &first["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "PlugboardTest");
    assert_eq!(directive["Dimensions"], json!([["function", "role"]]));
    assert_eq!((value(first, "function"), value(first, "role")), (json!("_"), json!("queue-worker")));
    // The batch as it happened: three records, one fine, one failed by the guest, one stopped at
    // the deadline; two reported for retry; three instances.
    for (name, expected) in [
        ("Invocations", 1),
        ("Errors", 0),
        ("ColdStart", 1),
        ("BatchRecords", 3),
        ("BatchItemFailures", 2),
        ("GuestOk", 1),
        ("GuestErrors", 1),
        ("GuestDeadlines", 1),
    ] {
        assert_eq!(value(first, name), json!(expected), "{name} in {first}");
    }
    assert_eq!(value(first, "GuestInstantiate").as_array().map(Vec::len), Some(3), "{first}");
    let init = value(first, "InitDuration").as_f64().expect("the cold start, once");
    let phases: f64 = ["InitSdkConfig", "InitConfig", "InitEngine", "InitGuest", "InitClients"]
        .iter()
        .map(|p| value(first, p).as_f64().unwrap_or_else(|| panic!("phase {p} in {first}")))
        .sum();
    assert!(phases <= init + 0.01 && phases > 0.0, "phases {phases} ms within the cold start {init} ms");
    assert!(value(first, "Duration").as_f64().unwrap() >= 390.0, "the looping record ran to its 400 ms deadline");
    assert_eq!(value(second, "ColdStart"), Value::Null, "the cold start is reported once");
    assert_eq!((value(second, "GuestOk"), value(second, "BatchItemFailures")), (json!(1), json!(0)));
    let names: BTreeSet<&str> = second["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["Name"].as_str())
        .collect();
    assert!(!names.contains("GuestDeadlines"), "nothing recorded, nothing reported: {second}");

    // Log lines are JSON on Lambda, each invocation's carrying its request id and level.
    let logs = json_lines(&stderr);
    let done: Vec<&Value> = logs.iter().filter(|l| l["message"] == "invocation done").collect();
    assert_eq!(done.len(), 2, "{logs:?}");
    for (line, doc) in done.iter().zip(&docs) {
        assert_eq!((line["level"].as_str(), line["function"].as_str()), (Some("INFO"), Some("_")));
        assert_eq!(line["request_id"], doc["request_id"], "the EMF document names the request it measured");
    }
    let failed = logs.iter().find(|l| l["message"] == "message failed; it will be retried").expect("a failed record");
    assert_eq!((failed["level"].as_str(), failed["message_id"].as_str()), (Some("WARN"), Some("msg-1")));
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_off_with_one_variable() {
    let dir = scratch("emf-off");
    let stdout = dir.join("stdout");
    let mut env = chaos("internal-api");
    env.push(("PLUGBOARD_METRICS", "off".into()));
    let internal = Lambda::start_writing(&env, file(&stdout), Stdio::null());
    internal.invoke(&json!({ "ops": [{ "op": "log", "message": "hi" }] })).unwrap();
    assert_eq!(std::fs::read_to_string(&stdout).unwrap(), "", "no metrics written");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guests_own_metrics_reach_its_document_bounded_and_validated() {
    let dir = scratch("emf-guest");
    let (stdout, stderr) = (dir.join("stdout"), dir.join("stderr"));
    let internal = Lambda::start_writing(&chaos("internal-api"), file(&stdout), file(&stderr));
    let metric = |message: String| json!({ "op": "log.context", "context": "plugboard:metric", "message": message });
    let mut ops: Vec<Value> = ["orders 2", "orders 3", "render 1.5 ms", "9lives 1", "orders 1 ms", "Invocations"]
        .into_iter()
        .map(|m| metric(m.to_string()))
        .collect();
    ops.extend((0..11).map(|i| metric(format!("m{i} 1"))));
    internal.invoke(&json!({ "ops": ops })).unwrap();

    let docs = json_lines(&stdout);
    assert_eq!(docs.len(), 1, "{docs:?}");
    let doc = &docs[0];
    check_emf(doc);
    assert_eq!((value(doc, "guest.orders"), value(doc, "guest.render")), (json!(5), json!(1.5)), "{doc}");
    assert_eq!(value(doc, "Invocations"), json!(1), "a guest cannot write the host's series");
    let guest: Vec<&str> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["Name"].as_str())
        .filter(|n| n.starts_with("guest."))
        .collect();
    assert_eq!(guest.len(), 10, "at most ten names per invocation: {guest:?}");
    assert!(guest.contains(&"guest.m7") && !guest.contains(&"guest.m8"), "{guest:?}");
    assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function", "role"]]));
    let refused: Vec<Value> = json_lines(&stderr)
        .into_iter()
        .filter(|l| l["message"].as_str().is_some_and(|m| m.starts_with("metric refused")))
        .collect();
    // The bad name, the changed unit, the missing value and m8, m9, m10.
    assert_eq!(refused.len(), 6, "{refused:?}");
    assert!(refused.iter().all(|l| l["level"] == "WARN" && l["request_id"] == doc["request_id"]), "{refused:?}");
    std::fs::remove_dir_all(&dir).ok();
}
