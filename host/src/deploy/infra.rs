//! The shared resources: the guest bucket, the key-value tables in the DynamoDB backend's
//! layout, the queues with their dead-letter redrive, and the APIs with their authorizers.

use serde_json::{Map, Value, json};

use super::{
    HTTP_API, REST_API, REST_STAGE, Resource, Template, function_id, get_att, pascal, queue_id, reference, table_id,
};
use crate::manifest::{Authorizer, AuthorizerKind, Manifest, Payload};

/// How long a dead-letter queue keeps a message: SQS's maximum, 14 days.
const DEAD_LETTER_RETENTION_SECS: u64 = 14 * 24 * 3600;

/// Add the bucket, tables, queues and APIs of `manifest`.
pub(super) fn add(template: &mut Template, manifest: &Manifest) -> Result<(), String> {
    template.add("GuestBucket".into(), guest_bucket())?;
    template.output(
        "GuestBucketName".into(),
        "Bucket for guest components (versioned): upload guests here",
        reference("GuestBucket"),
    );
    for table in manifest.tables() {
        template.add(table_id(&table), table_resource(&table))?;
        template.output(
            format!("{}Name", table_id(&table)),
            &format!("DynamoDB table for `{table}`"),
            reference(&table_id(&table)),
        );
    }
    let dead_letters: Vec<&String> = manifest.queues.values().filter_map(|q| q.dead_letter.as_ref()).collect();
    for (name, queue) in &manifest.queues {
        let fifo = name.ends_with(".fifo");
        let mut properties =
            json!({ "VisibilityTimeout": queue.visibility_timeout_secs, "SqsManagedSseEnabled": true });
        if fifo {
            properties["FifoQueue"] = json!(true);
            // Written either way, so the template says which mode the queue uses.
            properties["ContentBasedDeduplication"] = json!(queue.content_based_deduplication);
        }
        if dead_letters.contains(&name) {
            properties["MessageRetentionPeriod"] = json!(DEAD_LETTER_RETENTION_SECS);
        }
        if let Some(dlq) = &queue.dead_letter {
            properties["RedrivePolicy"] =
                json!({ "deadLetterTargetArn": get_att(&queue_id(dlq), "Arn"), "maxReceiveCount": queue.max_receives });
        }
        template.add(queue_id(name), Resource::new("AWS::SQS::Queue", properties))?;
        template.output(format!("{}Url", queue_id(name)), &format!("SQS queue `{name}`"), reference(&queue_id(name)));
    }
    for payload in [Payload::V2, Payload::V1] {
        if manifest.routes.iter().any(|r| r.payload == payload) {
            add_api(template, manifest, payload)?;
        }
    }
    Ok(())
}

fn guest_bucket() -> Resource {
    Resource::new(
        "AWS::S3::Bucket",
        json!({
            "VersioningConfiguration": { "Status": "Enabled" },
            "BucketEncryption": { "ServerSideEncryptionConfiguration": [
                { "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" } } ] },
            "PublicAccessBlockConfiguration": { "BlockPublicAcls": true, "BlockPublicPolicy": true,
                                                "IgnorePublicAcls": true, "RestrictPublicBuckets": true },
        }),
    )
    .retained()
}

/// A table in `DynamoDbKeyValue`'s layout: partition key `PK` (string), on demand.
fn table_resource(table: &str) -> Resource {
    Resource::new(
        "AWS::DynamoDB::Table",
        json!({
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{ "AttributeName": "PK", "AttributeType": "S" }],
            "KeySchema": [{ "AttributeName": "PK", "KeyType": "HASH" }],
            "PointInTimeRecoverySpecification": { "PointInTimeRecoveryEnabled": true },
            "Tags": [{ "Key": "plugboard:store", "Value": table }],
        }),
    )
    .retained()
}

/// One API for the routes of `payload`: an HTTP API for v2, a REST API for v1, each with the
/// authorizers its routes use.
fn add_api(template: &mut Template, manifest: &Manifest, payload: Payload) -> Result<(), String> {
    let mut authorizers = Map::new();
    for route in manifest.routes.iter().filter(|r| r.payload == payload) {
        if let Some(name) = &route.authorizer {
            let authorizer = manifest.authorizers.get(name).ok_or_else(|| format!("no authorizer `{name}`"))?;
            authorizers.insert(pascal(name), authorizer_properties(authorizer, payload));
        }
    }
    let auth = if authorizers.is_empty() { None } else { Some(json!({ "Authorizers": authorizers })) };
    let (id, resource, url) = match payload {
        // An ALB needs the account's VPC, subnets and listener: its owner registers the
        // function as a target; the template only deploys the function.
        Payload::Alb => return Ok(()),
        Payload::V2 => {
            let mut properties = json!({ "FailOnWarnings": true });
            if let Some(auth) = auth {
                properties["Auth"] = auth;
            }
            let url = json!({ "Fn::Sub": format!("https://${{{HTTP_API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/") });
            (HTTP_API, Resource::new("AWS::Serverless::HttpApi", properties), url)
        }
        Payload::V1 => {
            let mut properties = json!({ "StageName": REST_STAGE, "EndpointConfiguration": { "Type": "REGIONAL" } });
            if let Some(auth) = auth {
                properties["Auth"] = auth;
            }
            let url = json!({ "Fn::Sub": format!("https://${{{REST_API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{REST_STAGE}/") });
            (REST_API, Resource::new("AWS::Serverless::Api", properties), url)
        }
    };
    template.add(id.into(), resource)?;
    let what = match payload {
        Payload::V2 => "Base URL of the HTTP API (payload v2 routes)",
        Payload::V1 => "Base URL of the REST API (payload v1 routes)",
        Payload::Alb => "ALB target",
    };
    template.output(format!("{id}Url"), what, url);
    Ok(())
}

/// SAM's description of a Lambda authorizer: on an HTTP API a REQUEST authorizer with payload
/// format 1.0 (the REST-style event and IAM policy `plugboard dev` also uses); on a REST API a
/// TOKEN or REQUEST authorizer. Either caches the policy by the identity header for the TTL.
fn authorizer_properties(authorizer: &Authorizer, payload: Payload) -> Value {
    let function_arn = get_att(&function_id(&authorizer.function), "Arn");
    let header = authorizer.identity_header.clone();
    let ttl = authorizer.cache_ttl_secs;
    match (payload, authorizer.kind) {
        // (ALB routes have no authorizer: the manifest refuses one.)
        (Payload::V2 | Payload::Alb, _) => json!({
            "FunctionArn": function_arn,
            "AuthorizerPayloadFormatVersion": "1.0",
            "EnableFunctionDefaultPermissions": true,
            "Identity": { "Headers": [header], "ReauthorizeEvery": ttl },
        }),
        (Payload::V1, AuthorizerKind::Token) => json!({
            "FunctionArn": function_arn,
            "FunctionPayloadType": "TOKEN",
            "Identity": { "Header": header, "ReauthorizeEvery": ttl },
        }),
        (Payload::V1, AuthorizerKind::Request) => json!({
            "FunctionArn": function_arn,
            "FunctionPayloadType": "REQUEST",
            "Identity": { "Headers": [header], "ReauthorizeEvery": ttl },
        }),
    }
}
