//! The deployment generated from the manifest: the checked-in template is current, every
//! function gets its manifest configuration through its environment, roles allow exactly the
//! manifest's grants, the four patterns are wired, the offline template checks pass (and bite)
//! with Managed Instances mode off and on, and the glibc check rejects binaries too new for
//! provided.al2023.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use plugboard::config::{FunctionConfig, env};
use plugboard::deploy;
use plugboard::manifest::Manifest;
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn demo() -> Manifest {
    Manifest::load(&root().join("plugboard.toml")).unwrap()
}

fn parse(yaml: &str) -> Value {
    serde_norway::from_str(yaml).expect("the template is YAML")
}

fn demo_template() -> Value {
    parse(&deploy::render(&demo()).unwrap())
}

#[test]
fn checked_in_template_matches_the_manifest() {
    let generated = deploy::render(&demo()).unwrap();
    let checked_in = std::fs::read_to_string(root().join("deploy/template.yaml")).unwrap_or_default();
    assert!(
        generated == checked_in,
        "deploy/template.yaml is out of date with plugboard.toml: run `plugboard deploy-template`"
    );
}

/// Resolve the intrinsic functions a function's environment uses, the way CloudFormation would
/// with the parameters in `set` and every other at its default: resources to their ids,
/// conditions evaluated, `None` for `AWS::NoValue`.
fn resolve_with(value: &Value, template: &Value, set: &BTreeMap<String, String>) -> Option<String> {
    let lookup = |name: &str| -> String {
        if let Some(v) = set.get(name) {
            return v.clone();
        }
        match &template["Parameters"][name]["Default"] {
            Value::String(s) => s.clone(),
            Value::Null => name.to_string(),
            other => other.to_string(),
        }
    };
    fn holds(condition: &Value, lookup: &dyn Fn(&str) -> String, template: &Value) -> bool {
        let operand = |v: &Value| match v {
            Value::Object(m) if m.contains_key("Ref") => lookup(m["Ref"].as_str().unwrap()),
            Value::String(s) => s.clone(),
            other => panic!("unexpected operand {other}"),
        };
        let (op, args) = condition.as_object().and_then(|m| m.iter().next()).expect("a condition");
        match op.as_str() {
            "Fn::Equals" => operand(&args[0]) == operand(&args[1]),
            "Fn::Not" => !holds(&args[0], lookup, template),
            "Fn::And" => args.as_array().unwrap().iter().all(|c| holds(c, lookup, template)),
            "Fn::Or" => args.as_array().unwrap().iter().any(|c| holds(c, lookup, template)),
            "Condition" => holds(&template["Conditions"][args.as_str().unwrap()], lookup, template),
            other => panic!("unexpected condition {other}"),
        }
    }
    let substitute = |text: &str| -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("closed ${}") + start;
            let name = &rest[start + 2..end];
            out.push_str(&match name {
                "AWS::StackName" => "stack".to_string(),
                _ => lookup(name),
            });
            rest = &rest[end + 1..];
        }
        out + rest
    };
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) if map.get("Ref") == Some(&json!("AWS::NoValue")) => None,
        Value::Object(map) if map.contains_key("Ref") => Some(lookup(map["Ref"].as_str().unwrap())),
        Value::Object(map) if map.contains_key("Fn::Sub") => Some(substitute(map["Fn::Sub"].as_str().unwrap())),
        Value::Object(map) if map.contains_key("Fn::If") => {
            let branch = &map["Fn::If"];
            let condition = &template["Conditions"][branch[0].as_str().unwrap()];
            resolve_with(&branch[if holds(condition, &lookup, template) { 1 } else { 2 }], template, set)
        }
        other => panic!("unexpected intrinsic {other}"),
    }
}

/// `name`'s Lambda environment as CloudFormation would set it with the parameters in `set`.
fn environment_of(template: &Value, name: &str, set: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let resource = &template["Resources"][format!("{}Function", deploy::pascal(name))];
    let mut vars = Vec::new();
    for scope in [
        &template["Globals"]["Function"]["Environment"]["Variables"],
        &resource["Properties"]["Environment"]["Variables"],
    ] {
        for (k, v) in scope.as_object().into_iter().flatten() {
            if let Some(v) = resolve_with(v, template, set) {
                vars.push((k.clone(), v));
            }
        }
    }
    vars
}

fn functions(template: &Value) -> BTreeMap<String, Value> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(id, r)| (id.clone(), r.clone()))
        .collect()
}

#[test]
fn every_function_gets_its_manifest_configuration_through_the_environment() {
    let manifest = demo();
    let template = demo_template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["CodeUri"], deploy::CODE_URI);
    assert_eq!(globals["Runtime"], "provided.al2023");
    let functions = functions(&template);
    assert_eq!(functions.len(), manifest.functions.len());
    for (name, expected) in &manifest.functions {
        let resource = &functions[&format!("{}Function", deploy::pascal(name))];
        assert!(resource["Properties"]["CodeUri"].is_null(), "{name}: one artifact for all, from Globals");
        let vars = environment_of(&template, name, &BTreeMap::new());
        let actual = env::from_vars(vars).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(actual.guest.as_deref(), Some(format!("s3://GuestBucket/guests/{name}.wasm").as_str()));
        assert_eq!(actual.role, expected.role, "{name}");
        assert_eq!(actual.limits, expected.limits, "{name}");
        // Logical names keep their meaning; the resources are the stack's.
        let ids = |m: &BTreeMap<String, String>, suffix: &str| -> BTreeMap<String, String> {
            m.iter().map(|(k, v)| (k.clone(), format!("{}{suffix}", deploy::pascal(v)))).collect()
        };
        assert_eq!(actual.grants.stores, ids(&expected.grants.stores, "Table"), "{name}");
        assert_eq!(actual.grants.queues, ids(&expected.grants.queues, "Queue"), "{name}");
        let targets: BTreeMap<String, String> =
            expected.grants.functions.iter().map(|(k, v)| (k.clone(), format!("stack-{v}"))).collect();
        assert_eq!(actual.grants.functions, targets, "{name}");
        assert_eq!(actual.config, secrets_as_references(&manifest, expected), "{name}");
    }
}

fn secrets_as_references(manifest: &Manifest, config: &FunctionConfig) -> BTreeMap<String, String> {
    let mut values = config.config.clone();
    for value in values.values_mut() {
        if let Some(name) = value.strip_prefix("secret:") {
            *value = manifest.secrets[name].reference().unwrap().to_string();
        }
    }
    values
}

/// Every (action, resource) the role of `function` allows, resources as text.
fn grants_of(template: &Value, function: &str) -> BTreeSet<(String, String)> {
    let role = &template["Resources"][format!("{}FunctionRole", deploy::pascal(function))];
    let mut out = BTreeSet::new();
    for policy in role["Properties"]["Policies"].as_array().unwrap() {
        for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
            assert_eq!(statement["Effect"], "Allow");
            let resources = match &statement["Resource"] {
                Value::Array(list) => list.clone(),
                one => vec![one.clone()],
            };
            for action in statement["Action"].as_array().unwrap() {
                for resource in &resources {
                    let text = match resource {
                        Value::Object(m) if m.contains_key("Fn::GetAtt") => {
                            m["Fn::GetAtt"][0].as_str().unwrap().to_string()
                        }
                        Value::Object(m) if m.contains_key("Fn::Sub") => match &m["Fn::Sub"] {
                            Value::String(s) => s.clone(),
                            list => list[0].as_str().unwrap().to_string(),
                        },
                        other => other.as_str().unwrap().to_string(),
                    };
                    out.insert((action.as_str().unwrap().to_string(), text));
                }
            }
        }
    }
    out
}

fn has(grants: &BTreeSet<(String, String)>, action: &str, resource: &str) -> bool {
    grants.iter().any(|(a, r)| a == action && r.contains(resource))
}

#[test]
fn roles_allow_only_what_the_manifest_grants() {
    let template = demo_template();
    for (name, grants) in ["items", "quotes", "webhook-ingest", "webhook-worker", "gatekeeper", "gatekeeper-admin"]
        .map(|f| (f, grants_of(&template, f)))
    {
        assert!(
            grants.iter().all(|(a, r)| !a.contains('*') && r != "*"),
            "{name}: no wildcard actions or resources: {grants:?}"
        );
        assert!(has(&grants, "s3:GetObject", &format!("{}GuestKey", deploy::pascal(name))), "{name}: its own guest");
        assert!(has(&grants, "s3:GetObject", ".*.cwasm"), "{name}: its precompiled artifacts");
        assert!(
            has(&grants, "s3:GetObjectVersion", &format!("{}GuestKey", deploy::pascal(name))),
            "{name}: a rollback"
        );
        assert!(!has(&grants, "s3:GetObjectVersion", ".*.cwasm"), "{name}: artifacts are fetched by key alone");
        assert!(!has(&grants, "sqs:ChangeMessageVisibility", ""), "{name}: the host never calls it");
        if ["quotes", "gatekeeper"].contains(&name) {
            let writes = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"];
            assert!(writes.iter().all(|w| !has(&grants, w, "")), "{name} only reads its store: {grants:?}");
        }
        assert!(
            has(&grants, "logs:PutLogEvents", &format!("{}LogGroup", deploy::pascal(name))),
            "{name}: its own logs"
        );
        let others: Vec<_> = grants.iter().filter(|(a, _)| !a.starts_with("s3:") && !a.starts_with("logs:")).collect();
        let expected: &[(&str, &str)] = match name {
            "items" => &[
                ("dynamodb:GetItem", "PlugboardItemsTable"),
                ("lambda:InvokeFunction", "function:${AWS::StackName}-quotes"),
            ],
            "quotes" => &[("dynamodb:GetItem", "PlugboardPricingTable")],
            "webhook-ingest" => &[
                ("sqs:SendMessage", "PlugboardEventsQueue"),
                ("ssm:GetParameter", "parameter/plugboard-demo/webhook-secret"),
            ],
            "webhook-worker" => &[
                ("dynamodb:UpdateItem", "PlugboardEventsStoreTable"),
                ("sqs:ReceiveMessage", "PlugboardEventsQueue"),
                ("sqs:DeleteMessage", "PlugboardEventsQueue"),
            ],
            "gatekeeper" => &[
                ("dynamodb:GetItem", "PlugboardApiKeysTable"),
                ("ssm:GetParameter", "parameter/plugboard-demo/jwt-secret"),
            ],
            _ => &[("dynamodb:Scan", "PlugboardApiKeysTable")],
        };
        for (action, resource) in expected {
            assert!(has(&grants, action, resource), "{name} may {action} on {resource}: {grants:?}");
        }
        let allowed: BTreeSet<&str> = expected.iter().map(|(_, r)| *r).collect();
        for (action, resource) in others {
            assert!(allowed.iter().any(|r| resource.contains(r)), "{name} must not {action} on {resource}");
        }
    }
}

#[test]
fn the_four_patterns_are_wired() {
    let template = demo_template();
    let resources = &template["Resources"];
    let text = deploy::render(&demo()).unwrap();
    assert!(
        !text.contains("demo-jwt-secret") && !text.contains("demo-webhook-secret"),
        "secrets are referenced, not inlined"
    );
    // Simple Web Service + Gatekeeper: one HTTP API, writes behind the cached REQUEST authorizer.
    let authorizer = &resources["HttpApi"]["Properties"]["Auth"]["Authorizers"]["Gatekeeper"];
    assert_eq!(authorizer["AuthorizerPayloadFormatVersion"], "1.0");
    assert_eq!(authorizer["Identity"], json!({ "Headers": ["Authorization"], "ReauthorizeEvery": 300 }));
    let events = &resources["ItemsFunction"]["Properties"]["Events"];
    assert_eq!(events["PostItems"]["Properties"]["Auth"]["Authorizer"], "Gatekeeper");
    assert_eq!(events["DeleteItemsId"]["Properties"]["Auth"]["Authorizer"], "Gatekeeper");
    assert!(events["GetItemsId"]["Properties"]["Auth"].is_null(), "reads are public");
    // Scalable Webhook: queue -> worker with per-message failures; poison to the DLQ after 3.
    let worker = &resources["WebhookWorkerFunction"]["Properties"];
    let source = &worker["Events"]["PlugboardEventsMessages"]["Properties"];
    assert_eq!(source["FunctionResponseTypes"], json!(["ReportBatchItemFailures"]));
    assert_eq!(source["BatchSize"], 10);
    assert_eq!(source["ScalingConfig"]["MaximumConcurrency"], 2);
    assert_eq!(worker["ReservedConcurrentExecutions"]["Fn::If"][0], "WebhookWorkerHasReservedConcurrency");
    assert_eq!(template["Parameters"]["WebhookWorkerReservedConcurrency"]["Default"], "", "unset by default");
    let redrive = &resources["PlugboardEventsQueue"]["Properties"]["RedrivePolicy"];
    assert_eq!(
        redrive,
        &json!({ "deadLetterTargetArn": { "Fn::GetAtt": ["PlugboardEventsDlqQueue", "Arn"] }, "maxReceiveCount": 3 })
    );
    // Internal API: a fixed function name to invoke, an output for it.
    assert_eq!(
        resources["QuotesFunction"]["Properties"]["FunctionName"],
        json!({ "Fn::Sub": "${AWS::StackName}-quotes" })
    );
    assert_eq!(template["Outputs"]["QuotesFunctionName"]["Value"], json!({ "Ref": "QuotesFunction" }));
    // Data is kept when the stack goes.
    for id in ["PlugboardItemsTable", "GuestBucket"] {
        assert_eq!(resources[id]["DeletionPolicy"], "Retain", "{id}");
    }
    assert_eq!(
        resources["PlugboardItemsTable"]["Properties"]["KeySchema"],
        json!([{ "AttributeName": "PK", "KeyType": "HASH" }])
    );
}

#[test]
fn a_rest_api_app_gets_token_authorizers_fifo_queues_and_secrets_manager_grants() {
    let manifest = Manifest::load(&root().join("tests/fixtures/deploy/rest-api.toml")).unwrap();
    let template = parse(&deploy::render(&manifest).unwrap());
    let resources = &template["Resources"];
    let rest = &resources["RestApi"]["Properties"]["Auth"]["Authorizers"];
    assert_eq!(rest["Guard"]["FunctionPayloadType"], "TOKEN");
    assert_eq!(rest["Guard"]["Identity"], json!({ "Header": "Authorization", "ReauthorizeEvery": 0 }));
    assert_eq!(rest["ByRequest"]["Identity"]["Headers"], json!(["X-Api-Key"]));
    assert!(resources["HttpApi"]["Properties"]["Auth"]["Authorizers"]["ByRequest"].is_object());
    let events = &resources["ApiFunction"]["Properties"]["Events"];
    assert_eq!(events["AnyProxy"]["Type"], "Api");
    assert_eq!(events["PostV2Things"]["Type"], "HttpApi");
    assert_eq!(resources["JobsFifoQueue"]["Properties"]["FifoQueue"], true);
    // A FIFO worker runs its batch in order: the timeout covers the whole batch.
    assert_eq!(template["Parameters"]["JobsWorkerTimeout"]["Default"], 15);
    let grants = grants_of(&template, "api");
    assert!(has(&grants, "secretsmanager:GetSecretValue", "secret:rest/token-??????"), "{grants:?}");
    assert!(has(&grants, "lambda:InvokeFunction", "function:${AWS::StackName}-api"), "{grants:?}");
    let env = &resources["ApiFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(env["PLUGBOARD_CONFIG_TOKEN_KEY"], "secretsmanager:rest/token#key");
    assert_eq!(env["PLUGBOARD_CONFIG_GREETING"], "costs ${5}", "a literal value is not a substitution");
}

#[test]
fn manifests_aws_would_refuse_are_refused_first() {
    let manifest = std::fs::read_to_string(root().join("plugboard.toml")).unwrap();
    let load = |text: &str| -> Result<Manifest, String> {
        let dir = tempdir();
        std::fs::write(dir.join("plugboard.toml"), text).unwrap();
        Manifest::load(&dir.join("plugboard.toml")).map_err(|e| e.to_string())
    };
    let token = manifest.replace("type = \"request\"", "type = \"token\"");
    assert_ne!(token, manifest);
    let err = load(&token).unwrap_err();
    assert!(err.contains("type = \"token\"") && err.contains("payload = \"v1\""), "{err}");
    let alb = manifest.replacen("authorizer = \"gatekeeper\"", "authorizer = \"gatekeeper\"\npayload = \"alb\"", 1);
    assert_ne!(alb, manifest);
    let err = load(&alb).unwrap_err();
    assert!(err.contains("ALB target has no Lambda authorizer"), "{err}");
    let unknown = manifest.replace("secret:jwt-secret", "secret:nope");
    assert!(load(&unknown).unwrap_err().contains("no secret `nope`"));
    let no_dev = manifest.replace("dev = \"demo-jwt-secret\"\n", "");
    let err = load(&no_dev).unwrap().dev_config("gatekeeper").unwrap_err();
    assert!(err.contains("jwt-secret") && err.contains("dev"), "{err}");
    let simple =
        manifest.replace("[functions.gatekeeper]\n", "[functions.gatekeeper]\nauthorizer-response = \"simple\"\n");
    assert_ne!(simple, manifest);
    let err = load(&simple).unwrap_err();
    assert!(err.contains("authorizer-response") && err.contains("payload 1.0"), "{err}");
    let slow = manifest
        .replace("limits = { timeout-ms = 5000, memory-mb = 32 }", "limits = { timeout-ms = 45000, memory-mb = 32 }");
    assert_ne!(slow, manifest);
    let err = deploy::render(&load(&slow).unwrap()).unwrap_err().to_string();
    assert!(err.contains("visibility-timeout-secs") && err.contains("webhook-worker"), "{err}");
}

#[test]
fn guest_refresh_reaches_only_functions_whose_guest_can_change() {
    let manifest = demo();
    let template = demo_template();
    let pattern =
        regex::Regex::new(template["Parameters"]["GuestRefreshSecs"]["AllowedPattern"].as_str().unwrap()).unwrap();
    for refused in ["0", "00", "-1", "1.5"] {
        assert!(!pattern.is_match(refused), "GuestRefreshSecs = {refused} would fail every cold start");
    }
    let pin = "a".repeat(64);
    for name in manifest.functions.keys() {
        let guest = deploy::guest_parameters(name);
        let cases = [
            (vec![], false),
            (vec![("GuestRefreshSecs", "60")], true),
            (vec![("GuestRefreshSecs", "60"), (guest.sha256.as_str(), pin.as_str())], false),
            (vec![("GuestRefreshSecs", "60"), (guest.precompiled.as_str(), pin.as_str())], false),
            (vec![("GuestRefreshSecs", "60"), (guest.version.as_str(), "v2")], false),
        ];
        for (set, refreshes) in cases {
            let set: BTreeMap<String, String> = set.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            for (param, value) in &set {
                let allowed = template["Parameters"][param]["AllowedPattern"].as_str().unwrap_or(".*");
                assert!(regex::Regex::new(allowed).unwrap().is_match(value), "{param} = {value}");
            }
            let vars = environment_of(&template, name, &set);
            let config = env::from_vars(vars.clone()).unwrap_or_else(|e| panic!("{name} {set:?}: {e}"));
            let secs = vars.iter().find(|(k, _)| k == plugboard::lambda::REFRESH_VAR).map(|(_, v)| v.parse().unwrap());
            let every = plugboard::lambda::guest_source::refresh_every(&config, secs)
                .unwrap_or_else(|e| panic!("{name} {set:?}: the cold start would fail: {e}"));
            assert_eq!(every.is_some(), refreshes, "{name} {set:?}");
        }
    }
}

#[test]
fn a_worker_timeout_cannot_exceed_its_queues_visibility_timeout() {
    let manifest = demo();
    let template = demo_template();
    let mut workers = 0;
    for name in manifest.functions.keys() {
        let timeout = &template["Parameters"][format!("{}Timeout", deploy::pascal(name))];
        for (queue, q) in manifest.queues_worked_by(name) {
            workers += 1;
            let visibility =
                template["Resources"][format!("{}Queue", deploy::pascal(queue))]["Properties"]["VisibilityTimeout"]
                    .as_u64()
                    .unwrap();
            assert_eq!(visibility, q.visibility_timeout_secs);
            // The largest timeout the parameter allows is one SQS accepts for the event source.
            let max = timeout["MaxValue"].as_u64().unwrap();
            assert!(
                max <= visibility,
                "{name}: a timeout of {max} s passes the parameter; SQS refuses it above {visibility} s"
            );
            assert!(timeout["Default"].as_u64().unwrap() <= max, "{name}");
        }
    }
    assert!(workers > 0, "the demo has a queue worker");
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plugboard-deploy-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The offline template tools from `.venv-deploy` (scripts/deploy-env.sh, run by scripts/test.sh).
fn tool(name: &str) -> Command {
    let path = root().join(".venv-deploy/bin").join(name);
    assert!(path.exists(), "{} is missing: run scripts/deploy-env.sh", path.display());
    let mut command = Command::new(path);
    command
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "offline")
        .env("AWS_SECRET_ACCESS_KEY", "offline");
    command.env("SAM_CLI_TELEMETRY", "0").current_dir(root());
    command
}

/// cfn-lint, `sam validate --lint`, and the SAM transform followed by cfn-lint; the first failure.
fn check_template(path: &Path) -> Result<(), String> {
    let run = |mut command: Command, what: &str| -> Result<(), String> {
        let out = command.output().map_err(|e| format!("{what}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what} failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let mut lint = tool("cfn-lint");
    lint.arg(path);
    run(lint, "cfn-lint")?;
    let mut validate = tool("sam");
    validate.args(["validate", "--lint", "--template-file"]).arg(path);
    run(validate, "sam validate")?;
    let expanded = tempdir().join("expanded.json");
    let mut translate = tool("python");
    translate.arg(root().join("scripts/sam-translate.py")).arg(path).arg(&expanded);
    run(translate, "SAM transform")?;
    let mut lint = tool("cfn-lint");
    lint.arg(&expanded);
    run(lint, "cfn-lint after the transform")
}

#[test]
fn templates_pass_cfn_lint_sam_validate_and_the_transform_offline() {
    check_template(&root().join("deploy/template.yaml")).unwrap();
    let variant = Manifest::load(&root().join("tests/fixtures/deploy/rest-api.toml")).unwrap();
    let path = tempdir().join("template.yaml");
    std::fs::write(&path, deploy::render(&variant).unwrap()).unwrap();
    check_template(&path).unwrap();
    // Managed Instances mode: every function on the capacity provider, at Lambda's memory floor
    // for it; off (the demo's default), no function is.
    assert!(functions(&demo_template()).values().all(|f| f["Properties"].get("CapacityProviderConfig").is_none()));
    let mut managed = demo();
    managed.app.managed_instances = true;
    let text = deploy::render(&managed).unwrap();
    let template = parse(&text);
    for (id, function) in functions(&template) {
        let config = &function["Properties"]["CapacityProviderConfig"];
        assert_eq!(config["Arn"], json!({ "Ref": "CapacityProviderArn" }), "{id}");
        assert_eq!(
            config["PerExecutionEnvironmentMaxConcurrency"],
            json!({ "Ref": "PerEnvironmentConcurrency" }),
            "{id}"
        );
    }
    assert_eq!(template["Parameters"]["MemorySize"]["MinValue"], json!(2048));
    std::fs::write(&path, text).unwrap();
    check_template(&path).unwrap();
    // cfn-lint alone passes this one; only the transform + cfn-lint sees the bad event.
    let broken = root().join("tests/fixtures/deploy/broken-event.yaml");
    let err = check_template(&broken).unwrap_err();
    assert!(err.contains("cfn-lint after the transform") && err.contains("E3034"), "{err}");
}

#[test]
fn the_glibc_check_rejects_binaries_too_new_for_provided_al2023() {
    let dir = tempdir();
    let build = |name: &str, body: &str| -> PathBuf {
        let source = dir.join(format!("{name}.c"));
        std::fs::write(
            &source,
            format!("#include <stdio.h>\n#include <stdlib.h>\nint main(void) {{ {body} return 0; }}\n"),
        )
        .unwrap();
        let binary = dir.join(name);
        let status = Command::new("cc").arg("-o").arg(&binary).arg(&source).status().expect("a C compiler");
        assert!(status.success());
        binary
    };
    let check =
        |binary: &Path| Command::new(root().join("scripts/check-glibc.sh")).arg(binary).arg("2.34").output().unwrap();
    let plain = check(&build("plain", "puts(\"hi\");"));
    assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stderr));
    // arc4random arrived in glibc 2.36: a binary calling it cannot start on provided.al2023.
    let newer = check(&build("newer", "printf(\"%u\\n\", arc4random());"));
    assert!(!newer.status.success());
    assert!(String::from_utf8_lossy(&newer.stderr).contains("2.36"), "{}", String::from_utf8_lossy(&newer.stderr));
}

#[test]
fn package_refuses_to_print_a_deploy_without_the_bootstrap_zip() {
    let dir = std::env::temp_dir().join(format!("plugboard-package-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let guest = root().join("guests/dist/hello_http.wasm");
    let manifest =
        format!("[app]\nname = \"tiny\"\n\n[functions.hello]\nrole = \"http-api\"\nguest = \"{}\"\n", guest.display());
    std::fs::write(dir.join("plugboard.toml"), manifest).unwrap();
    let package = || {
        Command::new(env!("CARGO_BIN_EXE_plugboard"))
            .args(["package", "--arch", "x86_64", "--manifest"])
            .arg(dir.join("plugboard.toml"))
            .arg("--out")
            .arg(dir.join("guests"))
            .output()
            .unwrap()
    };
    let missing = package();
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success(), "exit 0 without a zip: {}", String::from_utf8_lossy(&missing.stdout));
    assert!(
        stderr.contains("bootstrap.zip does not exist")
            && stderr.contains(&format!("{}/scripts/bootstrap-zip.sh x86_64 ", root().display())),
        "{stderr}"
    );
    // With the zip in place, the same command lays the guests out and prints the steps.
    std::fs::create_dir_all(dir.join("deploy/dist")).unwrap();
    std::fs::write(dir.join("deploy/dist/bootstrap.zip"), b"zip").unwrap();
    let built = package();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    assert!(String::from_utf8_lossy(&built.stdout).contains("sam deploy"));
    assert!(dir.join("guests/hello.wasm").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn alarms_watch_every_dead_letter_queue_and_function_and_lint_with_or_without_a_topic() {
    let manifest = demo();
    let template = demo_template();
    let resources = template["Resources"].as_object().unwrap();
    let alarms: Vec<&Value> = resources.values().filter(|r| r["Type"] == "AWS::CloudWatch::Alarm").collect();
    let dead_letters: BTreeSet<&String> = manifest.queues.values().filter_map(|q| q.dead_letter.as_ref()).collect();
    assert!(!dead_letters.is_empty());
    let depth: Vec<&Value> = alarms.iter().copied().filter(|a| a["Properties"]["Namespace"] == "AWS/SQS").collect();
    assert_eq!(depth.len(), dead_letters.len(), "one depth alarm per dead-letter queue");
    for alarm in &depth {
        let queue = alarm["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0].as_str().unwrap();
        assert!(resources[queue]["Properties"]["MessageRetentionPeriod"].is_number(), "{queue} is a dead-letter queue");
        assert_eq!(alarm["Properties"]["Threshold"], 0);
    }
    let functions = functions(&template);
    let rates: Vec<&Value> = alarms.iter().copied().filter(|a| a["Properties"]["Metrics"].is_array()).collect();
    assert_eq!(rates.len(), functions.len(), "one error-rate alarm per function");
    for (id, function) in &functions {
        let tracing = function["Properties"]["Tracing"]["Ref"].as_str().expect("Tracing is a parameter");
        assert_eq!(template["Parameters"][tracing]["AllowedValues"], json!(["Active", "PassThrough"]));
        let role = function["Properties"]["Role"]["Fn::GetAtt"][0].as_str().unwrap();
        assert_eq!(
            resources[role]["Properties"]["ManagedPolicyArns"]["Fn::If"][0],
            format!("{tracing}Active"),
            "{id}: X-Ray write access only when traced"
        );
        let namespace = &function["Properties"]["Environment"]["Variables"]["PLUGBOARD_METRICS_NAMESPACE"];
        assert_eq!(namespace["Ref"], "MetricsNamespace");
    }
    for alarm in &alarms {
        assert_eq!(alarm["Properties"]["AlarmActions"]["Fn::If"][0], "HasAlarmTopic");
    }
    // The checked-in template (no topic) is linted by the test above; the same with a topic, and
    // every function traced, must pass too.
    let mut with_topic = template.clone();
    with_topic["Parameters"]["AlarmTopicArn"]["Default"] = "arn:aws:sns:us-east-1:123456789012:ops".into();
    for (_, function) in functions {
        let tracing = function["Properties"]["Tracing"]["Ref"].as_str().unwrap();
        with_topic["Parameters"][tracing]["Default"] = "Active".into();
    }
    let path = tempdir().join("template.yaml");
    std::fs::write(&path, serde_json::to_string_pretty(&with_topic).unwrap()).unwrap();
    check_template(&path).unwrap();
}
