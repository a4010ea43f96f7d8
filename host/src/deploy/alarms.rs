//! What an operator is told without building a dashboard: a CloudWatch alarm on each dead-letter
//! queue's depth (a message there is a message the app gave up on) and on each function's error
//! rate, notifying the optional `AlarmTopicArn`; plus the per-function X-Ray `Tracing` setting
//! and the EMF metrics namespace.

use serde_json::{Value, json};

use super::{Resource, Template, function_id, get_att, pascal, queue_id, reference};
use crate::manifest::Manifest;

/// The parameter naming the SNS topic alarms notify (empty: alarms without notifications).
const TOPIC_PARAM: &str = "AlarmTopicArn";
/// The condition that a topic was given.
const HAS_TOPIC: &str = "HasAlarmTopic";
/// The error-rate threshold parameter, in percent of invocations.
const ERROR_RATE_PARAM: &str = "ErrorRateAlarmPercent";
/// The EMF namespace parameter (`PLUGBOARD_METRICS_NAMESPACE`).
pub(super) const NAMESPACE_PARAM: &str = "MetricsNamespace";

/// Add the global alarm and metrics parameters, and one alarm per dead-letter queue.
pub(super) fn add(template: &mut Template, manifest: &Manifest) -> Result<(), String> {
    template.parameters.insert(
        TOPIC_PARAM.into(),
        json!({
            "Type": "String", "Default": "", "AllowedPattern": "^(arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+(\\.fifo)?)?$",
            "Description": "SNS topic ARN every alarm notifies (empty: alarms still change state, but notify no one)",
        }),
    );
    template.parameters.insert(
        ERROR_RATE_PARAM.into(),
        json!({
            "Type": "Number", "Default": 5, "MinValue": 0, "MaxValue": 100,
            "Description": "A function's alarm fires when more than this percent of its invocations in five minutes return a function error",
        }),
    );
    template.parameters.insert(
        NAMESPACE_PARAM.into(),
        json!({
            "Type": "String", "Default": "Plugboard", "MinLength": 1, "MaxLength": 255,
            "Description": "CloudWatch namespace of the metrics each function writes in Embedded Metric Format",
        }),
    );
    template
        .conditions
        .insert(HAS_TOPIC.into(), json!({ "Fn::Not": [{ "Fn::Equals": [reference(TOPIC_PARAM), ""] }] }));
    let dead_letters: std::collections::BTreeSet<&String> =
        manifest.queues.values().filter_map(|q| q.dead_letter.as_ref()).collect();
    for dlq in dead_letters {
        let id = queue_id(dlq);
        template.add(
            format!("{id}DepthAlarm"),
            alarm(json!({
                "AlarmDescription": format!("Dead-letter queue `{dlq}` holds messages the app gave up on: look at them (plugboard queue peek in dev, the SQS console here) and redrive"),
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{ "Name": "QueueName", "Value": get_att(&id, "QueueName") }],
                "Statistic": "Maximum",
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
            })),
        )?;
    }
    Ok(())
}

/// Add `name`'s error-rate alarm and return its `Tracing` parameter (Active or PassThrough).
pub(super) fn add_function(template: &mut Template, name: &str) -> Result<String, String> {
    let id = function_id(name);
    let lambda_metric = |metric: &str, label: &str| {
        json!({ "Id": label, "ReturnData": false, "MetricStat": {
            "Metric": { "Namespace": "AWS/Lambda", "MetricName": metric, "Dimensions": [{ "Name": "FunctionName", "Value": reference(&id) }] },
            "Period": 300, "Stat": "Sum",
        } })
    };
    template.add(
        format!("{id}ErrorRateAlarm"),
        alarm(json!({
            "AlarmDescription": format!("Function `{name}`: more than ErrorRateAlarmPercent of its invocations returned a function error"),
            "Metrics": [
                lambda_metric("Errors", "errors"),
                lambda_metric("Invocations", "invocations"),
                { "Id": "rate", "Label": "error rate (%)", "ReturnData": true,
                  "Expression": "IF(invocations > 0, 100 * errors / invocations, 0)" },
            ],
            "EvaluationPeriods": 1,
            "Threshold": reference(ERROR_RATE_PARAM),
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        })),
    )?;
    let tracing = format!("{}Tracing", pascal(name));
    template.parameters.insert(
        tracing.clone(),
        json!({
            "Type": "String", "Default": "PassThrough", "AllowedValues": ["Active", "PassThrough"],
            "Description": format!("`{name}`: X-Ray tracing (Active samples and records traces; PassThrough only carries the trace it is given)"),
        }),
    );
    template.conditions.insert(format!("{tracing}Active"), json!({ "Fn::Equals": [reference(&tracing), "Active"] }));
    Ok(tracing)
}

/// The managed policy an actively traced function needs to send segments to X-Ray (X-Ray takes
/// no resource-level permissions, so it is the one grant on `*`; attached only when Active).
pub(super) fn xray_policy(tracing: &str) -> Value {
    json!({ "Fn::If": [format!("{tracing}Active"),
        [{ "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess" }],
        reference("AWS::NoValue")] })
}

/// A CloudWatch alarm with `properties`, notifying the topic when there is one.
fn alarm(mut properties: Value) -> Resource {
    let actions = json!({ "Fn::If": [HAS_TOPIC, [reference(TOPIC_PARAM)], reference("AWS::NoValue")] });
    properties["AlarmActions"] = actions.clone();
    properties["OKActions"] = actions;
    Resource::new("AWS::CloudWatch::Alarm", properties)
}
