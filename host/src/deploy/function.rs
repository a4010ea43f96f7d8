//! One function: its parameters (guest key, version, pins, timeout, reserved concurrency), the
//! `AWS::Serverless::Function` with its environment, least-privilege policy and events, a log
//! group with a retention period, and (from [`super::alarms`]) its error-rate alarm and tracing.

use serde_json::{Map, Value, json};

use super::{
    HTTP_API, REST_API, Resource, Template, alarms, default_guest_key, function_id, get_att, guest_parameters,
    managed_instances_properties, pascal, queue_id, reference, role_description, sub_escape, table_id,
};
use crate::config::env::{self, EnvValue, GrantTarget};
use crate::config::{FunctionConfig, Role};
use crate::lambda::telemetry::NAMESPACE_VAR as METRICS_NAMESPACE_VAR;
use crate::manifest::{Manifest, Payload, SECRET_PREFIX};

/// What the DynamoDB backend calls (`DynamoDbKeyValue`), and nothing else.
const DYNAMODB_ACTIONS: [&str; 6] = [
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Scan",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
];

/// What reading a store takes (a read-only grant), and nothing else.
const DYNAMODB_READ_ACTIONS: [&str; 3] = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Scan"];

/// Add `name`'s parameters, conditions, function, log group and output.
pub(super) fn add(template: &mut Template, manifest: &Manifest, name: &str) -> Result<(), String> {
    let config = &manifest.functions[name];
    let id = function_id(name);
    let guest = guest_parameters(name);
    let timeout = default_timeout_secs(manifest, name, config);
    for (queue, q) in manifest.queues_worked_by(name) {
        if q.visibility_timeout_secs < timeout {
            return Err(format!(
                "queues.{queue}: visibility-timeout-secs = {} is shorter than worker `{name}`'s Lambda timeout of {timeout} s; SQS would deliver a message again while it is still being worked",
                q.visibility_timeout_secs
            ));
        }
    }
    let label = |what: &str| format!("`{name}`: {what}");
    template.parameters.insert(
        guest.key.clone(),
        json!({
            "Type": "String", "Default": default_guest_key(name), "AllowedPattern": "^[^?#]+\\.wasm$",
            "Description": label("S3 key of the guest component in the guest bucket"),
        }),
    );
    template.parameters.insert(
        guest.version.clone(),
        json!({
            "Type": "String", "Default": "",
            "Description": label("S3 version id of the guest (empty: the latest upload); set it to roll back"),
        }),
    );
    template.parameters.insert(
        guest.sha256.clone(),
        json!({
            "Type": "String", "Default": "", "AllowedPattern": "^([0-9a-f]{64})?$",
            "Description": label("sha256 the guest must have (empty: unpinned)"),
        }),
    );
    template.parameters.insert(guest.precompiled.clone(), json!({
        "Type": "String", "Default": "", "AllowedPattern": "^([0-9a-f]{64}(,[0-9a-f]{64})*)?$",
        "Description": label("sha256 pins of the precompiled .cwasm artifacts, comma-separated (empty: compile at cold start)"),
    }));
    // SQS refuses an event source whose queue's visibility timeout is below the function's.
    let max_timeout = manifest.queues_worked_by(name).map(|(_, q)| q.visibility_timeout_secs).fold(900, u64::min);
    let timeout_param = format!("{}Timeout", pascal(name));
    template.parameters.insert(timeout_param.clone(), json!({
        "Type": "Number", "Default": timeout, "MinValue": 1, "MaxValue": max_timeout,
        "Description": label("Lambda timeout in seconds (default from the manifest's limits.timeout-ms; at most the visibility timeout of the queues it works)"),
    }));
    let has_version = format!("{}HasGuestVersion", pascal(name));
    template
        .conditions
        .insert(has_version.clone(), json!({ "Fn::Not": [{ "Fn::Equals": [reference(&guest.version), ""] }] }));
    // Only a guest that can change is refreshed: a pin or a version id means this exact guest.
    let refreshes = format!("{}RefreshesGuest", pascal(name));
    let empty = |param: &str| json!({ "Fn::Equals": [reference(param), ""] });
    template.conditions.insert(refreshes.clone(), json!({ "Fn::And": [
        { "Fn::Not": [empty("GuestRefreshSecs")] }, empty(&guest.version), empty(&guest.sha256), empty(&guest.precompiled),
    ] }));

    let role_id = format!("{id}Role");
    let log_group_id = format!("{}LogGroup", pascal(name));
    let tracing = alarms::add_function(template, name)?;
    let mut variables = environment(manifest, config, &guest, &has_version, &refreshes)?;
    variables.insert(METRICS_NAMESPACE_VAR.into(), reference(alarms::NAMESPACE_PARAM));
    let mut properties = json!({
        "FunctionName": { "Fn::Sub": function_name(name) },
        "Description": format!("{}: {}", name, role_description(config.role)),
        "Timeout": reference(&timeout_param),
        "Role": get_att(&role_id, "Arn"),
        "Tracing": reference(&tracing),
        "Environment": { "Variables": variables },
    });
    if manifest.app.managed_instances {
        for (key, value) in managed_instances_properties() {
            properties[key] = value;
        }
    }
    let events = events(manifest, name);
    if !events.is_empty() {
        properties["Events"] = Value::Object(events);
    }
    if config.role == Role::QueueWorker {
        let param = format!("{}ReservedConcurrency", pascal(name));
        let condition = format!("{}HasReservedConcurrency", pascal(name));
        template.parameters.insert(param.clone(), json!({
            "Type": "String", "Default": "", "AllowedPattern": "^[0-9]*$",
            "Description": label("reserved concurrency, the hard cap on parallel workers (empty: none; new accounts reject low values)"),
        }));
        template
            .conditions
            .insert(condition.clone(), json!({ "Fn::Not": [{ "Fn::Equals": [reference(&param), ""] }] }));
        properties["ReservedConcurrentExecutions"] =
            json!({ "Fn::If": [condition, reference(&param), { "Ref": "AWS::NoValue" }] });
    }
    template.add(id.clone(), Resource::new("AWS::Serverless::Function", properties))?;
    let mut statements = statements(manifest, name, config)?;
    statements.push(json!({
        "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": get_att(&log_group_id, "Arn"),
    }));
    template.add(role_id, Resource::new("AWS::IAM::Role", json!({
        "Description": format!("Plugboard function `{name}`: only what its manifest grants"),
        "AssumeRolePolicyDocument": { "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": { "Service": "lambda.amazonaws.com" }, "Action": "sts:AssumeRole" }] },
        "Policies": [{ "PolicyName": "plugboard-grants", "PolicyDocument": { "Version": "2012-10-17", "Statement": statements } }],
        "ManagedPolicyArns": alarms::xray_policy(&tracing),
    })))?;
    template.add(
        log_group_id,
        Resource::new(
            "AWS::Logs::LogGroup",
            json!({
                "LogGroupName": { "Fn::Sub": format!("/aws/lambda/{}", function_name(name)) },
                "RetentionInDays": reference("LogRetentionDays"),
            }),
        ),
    )?;
    template.output(format!("{id}Name"), &format!("Lambda function `{name}` ({})", config.role), reference(&id));
    Ok(())
}

/// `${AWS::StackName}-<name>` (for `Fn::Sub`): fixed names, so functions can name each other
/// without dependency cycles and callers of an internal API know what to invoke.
fn function_name(name: &str) -> String {
    format!("${{AWS::StackName}}-{}", sub_escape(name))
}

/// Seconds a function may run: the manifest's per-invocation budget rounded up plus one second
/// for the host; a FIFO worker runs its batch one record after another, so it gets the budget
/// per record.
fn default_timeout_secs(manifest: &Manifest, name: &str, config: &FunctionConfig) -> u64 {
    let per_call = config.limits.timeout_ms.div_ceil(1000) + 1;
    let fifo_batch = manifest
        .queues_worked_by(name)
        .filter(|(queue, _)| queue.ends_with(".fifo"))
        .map(|(_, q)| u64::from(q.batch_size))
        .max();
    (per_call * fifo_batch.unwrap_or(1)).min(900)
}

/// The function's configuration as Lambda environment variables ([`crate::config::env`]).
fn environment(
    manifest: &Manifest,
    config: &FunctionConfig,
    guest: &super::GuestParameters,
    has_version: &str,
    refreshes: &str,
) -> Result<Map<String, Value>, String> {
    let guest_url = format!("s3://${{GuestBucket}}/${{{}}}", guest.key);
    let mut vars = Map::new();
    vars.insert(
        "PLUGBOARD_GUEST".into(),
        json!({ "Fn::If": [has_version,
        { "Fn::Sub": format!("{guest_url}?versionId=${{{}}}", guest.version) },
        { "Fn::Sub": &guest_url }] }),
    );
    vars.insert("PLUGBOARD_GUEST_SHA256".into(), reference(&guest.sha256));
    vars.insert("PLUGBOARD_PRECOMPILED_SHA256".into(), reference(&guest.precompiled));
    vars.insert(
        env::REFRESH_VAR.into(),
        json!({ "Fn::If": [refreshes, reference("GuestRefreshSecs"), reference("AWS::NoValue")] }),
    );
    // Everything else as the host reads it (`config::env`), resource names as references to the
    // stack's resources; the guest's location and pins are the template parameters above.
    let resource = |r: GrantTarget<'_>| match r {
        GrantTarget::Table(table) => format!("${{{}}}", table_id(table)),
        // `Ref` of a queue is its URL, which saves the host a GetQueueUrl.
        GrantTarget::Queue(queue) => format!("${{{}}}", queue_id(queue)),
        GrantTarget::Function(function) => function_name(function),
    };
    for (var, value) in env::to_vars(config) {
        let value = match value {
            _ if ["PLUGBOARD_GUEST", "PLUGBOARD_GUEST_SHA256", "PLUGBOARD_PRECOMPILED_SHA256"]
                .contains(&var.as_str()) =>
            {
                continue;
            }
            grants @ EnvValue::Grants(_) => json!({ "Fn::Sub": grants.render(&sub_escape, &resource) }),
            EnvValue::Text(text) => match (var.starts_with("PLUGBOARD_CONFIG_"), text.strip_prefix(SECRET_PREFIX)) {
                (true, Some(secret)) => json!(
                    manifest.secrets[secret]
                        .reference()
                        .ok_or_else(|| format!("secrets.{secret}: no reference"))?
                        .to_string()
                ),
                _ => json!(text),
            },
        };
        vars.insert(var, value);
    }
    Ok(vars)
}

/// The IAM statements of the function's role: its guest objects, and exactly the tables,
/// queues, functions and secrets its grants and config name, and the queues it works. (The
/// role is written here rather than by SAM, whose SQS event would add a managed policy that
/// reads every queue in the account.)
fn statements(manifest: &Manifest, name: &str, config: &FunctionConfig) -> Result<Vec<Value>, String> {
    let guest = guest_parameters(name);
    let stem = json!({ "Fn::Select": [0, { "Fn::Split": [".wasm", reference(&guest.key)] }] });
    // The guest by version id too (a rollback); artifacts only by their digest-named keys.
    let mut list = vec![
        json!({
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": { "Fn::Sub": format!("arn:${{AWS::Partition}}:s3:::${{GuestBucket}}/${{{}}}", guest.key) },
        }),
        json!({
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": { "Fn::Sub": ["arn:${AWS::Partition}:s3:::${GuestBucket}/${Stem}.*.cwasm", { "Stem": stem }] },
        }),
    ];
    let grants = &config.grants;
    let resources = |ids: Vec<String>| -> Vec<Value> {
        let mut ids = ids;
        ids.sort();
        ids.dedup();
        ids.iter().map(|id| get_att(id, "Arn")).collect()
    };
    if !grants.stores.is_empty() {
        let tables = resources(grants.stores.values().map(|t| table_id(t)).collect());
        list.push(json!({ "Effect": "Allow", "Action": DYNAMODB_ACTIONS, "Resource": tables }));
    }
    // Tables read only, unless a read-write grant already covers them.
    let read_only: Vec<String> = grants
        .read_only_stores
        .values()
        .filter(|t| !grants.stores.values().any(|w| w == *t))
        .map(|t| table_id(t))
        .collect();
    if !read_only.is_empty() {
        list.push(json!({ "Effect": "Allow", "Action": DYNAMODB_READ_ACTIONS, "Resource": resources(read_only) }));
    }
    if !grants.queues.is_empty() {
        let queues = resources(grants.queues.values().map(|q| queue_id(q)).collect());
        list.push(json!({ "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": queues }));
    }
    if !grants.functions.is_empty() {
        // By the functions' fixed names, not GetAtt: functions that invoke each other would
        // otherwise make a dependency cycle.
        let mut targets: Vec<&String> = grants.functions.values().collect();
        targets.sort();
        targets.dedup();
        let arns: Vec<Value> = targets
            .iter()
            .map(|t| json!({ "Fn::Sub": format!("arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{}", function_name(t)) }))
            .collect();
        list.push(json!({ "Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": arns }));
    }
    let worked: Vec<String> = manifest.queues_worked_by(name).map(|(q, _)| queue_id(q)).collect();
    if !worked.is_empty() {
        // What the SQS event source needs, on exactly the queues this worker is fed by (the host
        // never changes a message's visibility: a failed record is reported, not released).
        let actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"];
        list.push(json!({ "Effect": "Allow", "Action": actions, "Resource": resources(worked) }));
    }
    let secrets: Vec<&str> = config.config.values().filter_map(|v| v.strip_prefix(SECRET_PREFIX)).collect();
    for secret in secrets {
        let spec = &manifest.secrets[secret];
        if let Some(parameter) = &spec.ssm {
            let arn = if parameter.starts_with("arn:") {
                json!(parameter)
            } else {
                let path = sub_escape(parameter.trim_start_matches('/'));
                json!({ "Fn::Sub": format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/{path}") })
            };
            list.push(json!({ "Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": arn }));
        }
        if let Some(id) = &spec.secretsmanager {
            let id = id.split('#').next().unwrap_or(id);
            let arn = if id.starts_with("arn:") {
                json!(id)
            } else {
                // Secrets Manager appends `-` and six random characters to a secret's ARN.
                json!({ "Fn::Sub": format!("arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{}-??????", sub_escape(id)) })
            };
            list.push(json!({ "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": arn }));
        }
    }
    Ok(list)
}

/// The function's event sources: its routes on the HTTP or REST API, and the queues it works.
fn events(manifest: &Manifest, name: &str) -> Map<String, Value> {
    let mut events = Map::new();
    for route in manifest.routes.iter().filter(|r| r.function == name) {
        let (method, path) = (route.pattern.method(), &route.pattern.path);
        let words = format!("{} {}", method.to_ascii_lowercase(), path.replace("proxy+", "proxy"));
        let mut id = pascal(&words);
        while events.contains_key(&id) {
            id.push('X');
        }
        let mut properties = json!({ "Method": method, "Path": path });
        match route.payload {
            Payload::V2 => {
                properties["ApiId"] = reference(HTTP_API);
                properties["PayloadFormatVersion"] = json!("2.0");
            }
            Payload::V1 => properties["RestApiId"] = reference(REST_API),
            // Registered with the load balancer by its owner (see `infra::add_api`).
            Payload::Alb => continue,
        }
        if let Some(authorizer) = &route.authorizer {
            properties["Auth"] = json!({ "Authorizer": pascal(authorizer) });
        }
        let kind = if route.payload == Payload::V2 { "HttpApi" } else { "Api" };
        events.insert(id, json!({ "Type": kind, "Properties": properties }));
    }
    for (queue_name, queue) in manifest.queues_worked_by(name) {
        // The SQS event source cannot go below 2 concurrent invocations; a hard cap of 1 is the
        // reserved-concurrency parameter.
        let concurrency = queue.max_concurrency.max(2);
        events.insert(
            format!("{}Messages", pascal(queue_name)),
            json!({ "Type": "SQS", "Properties": {
                "Queue": get_att(&queue_id(queue_name), "Arn"),
                "BatchSize": queue.batch_size,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": { "MaximumConcurrency": concurrency },
            }}),
        );
    }
    events
}
