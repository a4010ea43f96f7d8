//! A guest's own metrics, by a `wasi:logging` convention every toolchain already has: a line
//! with context [`METRIC_CONTEXT`] and message `<name> <value> [count|ms]` is a metric, not a log
//! line. Bounded per invocation ([`MAX_GUEST_METRICS`] names, [`super::metrics::MAX_VALUES`]
//! values each), names validated and reported under [`GUEST_PREFIX`] (a guest cannot touch the
//! host's own series), under the operator's dimensions only: a guest cannot add a dimension, so
//! it cannot multiply the number of CloudWatch metrics it costs.

use super::metrics::{Series, Unit};

/// The `wasi:logging` context that marks a line as a metric.
pub const METRIC_CONTEXT: &str = "plugboard:metric";
/// Most distinct metric names one invocation may report.
pub const MAX_GUEST_METRICS: usize = 10;
/// Longest metric name a guest may use.
pub const MAX_NAME: usize = 64;
/// What every guest metric's name starts with in CloudWatch.
pub const GUEST_PREFIX: &str = "guest.";

/// Why a guest's metric line was refused (logged as a warning; the guest carries on).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GuestMetricError {
    /// The line is not `<name> <value> [unit]`.
    #[error("expected `<name> <value> [count|ms]`")]
    Syntax,
    /// The name breaks the naming rule.
    #[error("a metric name is 1-{MAX_NAME} of [A-Za-z0-9_.-], starting with a letter")]
    Name,
    /// The value is not a number the unit allows.
    #[error("a count is a whole number >= 0, a duration a finite number of milliseconds >= 0")]
    Value,
    /// The unit is not one of the two.
    #[error("the unit is `count` (the default) or `ms`")]
    Unit,
    /// The name was already used with the other unit in this invocation.
    #[error("`{0}` was already reported with another unit in this invocation")]
    UnitChanged(String),
    /// The invocation already reported the most names it may.
    #[error("at most {MAX_GUEST_METRICS} metric names per invocation")]
    TooMany,
}

/// One value a guest reported.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestSample {
    /// The guest's name for it (without [`GUEST_PREFIX`]).
    pub name: String,
    /// How it aggregates.
    pub unit: Unit,
    /// A count to add, or one duration in milliseconds.
    pub value: f64,
}

impl GuestSample {
    /// Read a metric line's message.
    pub fn parse(message: &str) -> Result<GuestSample, GuestMetricError> {
        let mut words = message.split_ascii_whitespace();
        let (Some(name), Some(value)) = (words.next(), words.next()) else { return Err(GuestMetricError::Syntax) };
        let unit = match words.next() {
            None | Some("count") => Unit::Count,
            Some("ms") => Unit::Milliseconds,
            Some(_) => return Err(GuestMetricError::Unit),
        };
        if words.next().is_some() {
            return Err(GuestMetricError::Syntax);
        }
        let valid_name = name.len() <= MAX_NAME
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid_name {
            return Err(GuestMetricError::Name);
        }
        let value = match unit {
            Unit::Count => value.parse::<u32>().map(f64::from).map_err(|_| GuestMetricError::Value)?,
            Unit::Milliseconds => {
                value.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).ok_or(GuestMetricError::Value)?
            }
        };
        Ok(GuestSample { name: name.to_string(), unit, value })
    }
}

/// One guest metric's aggregate in an invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestSeries {
    /// Its name in CloudWatch ([`GUEST_PREFIX`] + the guest's name).
    pub name: String,
    /// How it aggregates.
    pub unit: Unit,
    /// What was recorded.
    pub series: Series,
}

/// Add `sample` to `all`, within the per-invocation bounds.
pub(super) fn record(all: &mut Vec<GuestSeries>, sample: GuestSample) -> Result<(), GuestMetricError> {
    let name = format!("{GUEST_PREFIX}{}", sample.name);
    let index = match all.iter().position(|g| g.name == name) {
        Some(i) if all[i].unit != sample.unit => return Err(GuestMetricError::UnitChanged(sample.name)),
        Some(i) => i,
        None if all.len() >= MAX_GUEST_METRICS => return Err(GuestMetricError::TooMany),
        None => {
            all.push(GuestSeries { name, unit: sample.unit, series: Series::default() });
            all.len() - 1
        }
    };
    let series = &mut all[index].series;
    series.recorded = true;
    match sample.unit {
        Unit::Count => series.count = series.count.saturating_add(sample.value as u64),
        Unit::Milliseconds => {
            series.count += 1;
            if series.values.len() < super::metrics::MAX_VALUES {
                series.values.push(sample.value);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_by_the_convention_and_bad_ones_say_why() {
        let sample = GuestSample::parse("orders_placed 3").unwrap();
        assert_eq!((sample.name.as_str(), sample.unit, sample.value), ("orders_placed", Unit::Count, 3.0));
        assert_eq!(GuestSample::parse(" render.time  1.25 ms ").unwrap().unit, Unit::Milliseconds);
        assert_eq!(GuestSample::parse("orders"), Err(GuestMetricError::Syntax));
        assert_eq!(GuestSample::parse("orders 1 count extra"), Err(GuestMetricError::Syntax));
        assert_eq!(GuestSample::parse("1orders 1"), Err(GuestMetricError::Name));
        assert_eq!(GuestSample::parse("orders x"), Err(GuestMetricError::Value));
        assert_eq!(GuestSample::parse(&format!("{} 1", "a".repeat(MAX_NAME + 1))), Err(GuestMetricError::Name));
        assert_eq!(GuestSample::parse("orders -1"), Err(GuestMetricError::Value));
        assert_eq!(GuestSample::parse("orders 1.5"), Err(GuestMetricError::Value));
        assert_eq!(GuestSample::parse("latency NaN ms"), Err(GuestMetricError::Value));
        assert_eq!(GuestSample::parse("latency 1 s"), Err(GuestMetricError::Unit));
    }

    #[test]
    fn an_invocation_keeps_at_most_the_bounded_names_and_values() {
        let mut all = Vec::new();
        for _ in 0..150 {
            record(&mut all, GuestSample::parse("latency 2 ms").unwrap()).unwrap();
        }
        record(&mut all, GuestSample::parse("orders 2").unwrap()).unwrap();
        record(&mut all, GuestSample::parse("orders 3").unwrap()).unwrap();
        assert_eq!(all[0].name, "guest.latency");
        assert_eq!((all[0].series.count, all[0].series.values.len()), (150, super::super::metrics::MAX_VALUES));
        assert_eq!(all[1].series.count, 5);
        assert_eq!(
            record(&mut all, GuestSample::parse("orders 1 ms").unwrap()),
            Err(GuestMetricError::UnitChanged("orders".into()))
        );
        for i in 2..MAX_GUEST_METRICS {
            record(&mut all, GuestSample::parse(&format!("m{i} 1")).unwrap()).unwrap();
        }
        assert_eq!(record(&mut all, GuestSample::parse("one_more 1").unwrap()), Err(GuestMetricError::TooMany));
        assert_eq!(all.len(), MAX_GUEST_METRICS);
    }
}
