//! Where the host's log lines go and in what form. On Lambda, Lambda's own logging configuration
//! (`AWS_LAMBDA_LOG_FORMAT` JSON/Text, `AWS_LAMBDA_LOG_LEVEL`); `PLUGBOARD_LOG_FORMAT` and
//! `PLUGBOARD_LOG` (an `EnvFilter`) override it anywhere. Lines go to stderr (stdout carries
//! responses and EMF metrics), coloured only on a terminal and without `NO_COLOR`.

use std::io::IsTerminal;

use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// One human-readable line each.
    Text,
    /// One JSON object each, fields flattened (`level`, `message`, `request_id`, `trace_id`, ...),
    /// as Lambda's JSON log format filters and CloudWatch Logs Insights queries them.
    Json,
}

/// What the environment asks of the log output.
#[derive(Debug, PartialEq, Eq)]
struct LogSettings {
    format: Format,
    filter: String,
    ansi: bool,
}

impl LogSettings {
    /// Read from `var` (the process environment); `default_filter` when nothing names a level.
    fn from(var: impl Fn(&str) -> Option<String>, default_filter: &str, stderr_is_terminal: bool) -> LogSettings {
        let format = match var("PLUGBOARD_LOG_FORMAT").or_else(|| var("AWS_LAMBDA_LOG_FORMAT")) {
            Some(f) if f.eq_ignore_ascii_case("json") => Format::Json,
            Some(f) if f.eq_ignore_ascii_case("text") => Format::Text,
            // Lambda without a logging configuration: JSON, so every field stays queryable.
            _ if var("AWS_LAMBDA_RUNTIME_API").is_some() => Format::Json,
            _ => Format::Text,
        };
        let filter = var("PLUGBOARD_LOG")
            .or_else(|| var("AWS_LAMBDA_LOG_LEVEL").and_then(|level| lambda_level(&level)).map(str::to_string))
            .unwrap_or_else(|| default_filter.to_string());
        let no_color = var("NO_COLOR").is_some_and(|v| !v.is_empty());
        LogSettings { format, filter, ansi: format == Format::Text && stderr_is_terminal && !no_color }
    }
}

/// Lambda's application log level as a `tracing` level (`FATAL` has no own level: `error`).
fn lambda_level(level: &str) -> Option<&'static str> {
    Some(match level.to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        _ => return None,
    })
}

/// Install the process's subscriber; `default_filter` applies when the environment names none.
/// Returns the OpenTelemetry provider when spans are exported (see [`super::otel`]), whose exports
/// run on `runtime`; `activity` (for `plugboard dev`'s dashboard) sees every event at INFO and
/// above, whatever the filter of the printed lines (not below: that would enable every debug
/// callsite, and the TRACE-level spans, for nothing).
pub(super) fn init(
    default_filter: &str,
    runtime: &tokio::runtime::Handle,
    activity: Option<crate::dev::activity::ActivityLayer>,
) -> Option<SdkTracerProvider> {
    let settings = LogSettings::from(|name| std::env::var(name).ok(), default_filter, std::io::stderr().is_terminal());
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let output = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let output = match settings.format {
        Format::Json => output.json().flatten_event(true).with_current_span(false).with_span_list(false).boxed(),
        Format::Text => output.with_ansi(settings.ansi).boxed(),
    };
    let (spans, provider) = super::otel::layer(runtime).unzip();
    tracing_subscriber::registry()
        .with(output.with_filter(filter))
        .with(spans)
        .with(activity.map(|a| a.with_filter(tracing_subscriber::filter::LevelFilter::INFO)))
        .init();
    provider
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)], terminal: bool) -> LogSettings {
        let var = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        LogSettings::from(var, "info", terminal)
    }

    #[test]
    fn lambda_logging_configuration_is_honoured_and_plugboard_variables_override_it() {
        let lambda = [("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")];
        assert_eq!(settings(&lambda, false), LogSettings { format: Format::Json, filter: "info".into(), ansi: false });
        let text = [lambda[0], ("AWS_LAMBDA_LOG_FORMAT", "Text"), ("AWS_LAMBDA_LOG_LEVEL", "DEBUG")];
        assert_eq!(settings(&text, false), LogSettings { format: Format::Text, filter: "debug".into(), ansi: false });
        let fatal = [lambda[0], ("AWS_LAMBDA_LOG_FORMAT", "JSON"), ("AWS_LAMBDA_LOG_LEVEL", "FATAL")];
        assert_eq!(settings(&fatal, false).filter, "error");
        let overridden = [text[0], text[1], text[2], ("PLUGBOARD_LOG_FORMAT", "json"), ("PLUGBOARD_LOG", "warn")];
        assert_eq!(
            settings(&overridden, false),
            LogSettings { format: Format::Json, filter: "warn".into(), ansi: false }
        );
        assert_eq!(settings(&[("AWS_LAMBDA_LOG_LEVEL", "LOUD")], false).filter, "info", "an unknown level is ignored");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(settings(&[], true).ansi);
        assert!(!settings(&[], false).ansi, "stderr redirected to a file");
        assert!(!settings(&[("NO_COLOR", "1")], true).ansi);
        assert!(settings(&[("NO_COLOR", "")], true).ansi, "an empty NO_COLOR does not count");
        assert!(!settings(&[("PLUGBOARD_LOG_FORMAT", "json")], true).ansi);
    }
}
