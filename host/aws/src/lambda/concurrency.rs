//! Concurrent invocations in one execution environment (Lambda Managed Instances): Lambda sets
//! `AWS_LAMBDA_MAX_CONCURRENCY` from the capacity provider's per-environment concurrency, and
//! `lambda_runtime::run_concurrent` polls that many events at once. Every invocation still gets
//! its own store and instance of the one pre-instantiated guest, its own deadline, request id
//! and trace; what is shared is sized here: the instance pool, and the memory the guests may take.

use plugboard_core::runtime::{Allocator, EngineSettings};

/// The variable Lambda sets to the invocations one environment serves at once.
pub const MAX_CONCURRENCY_VAR: &str = "AWS_LAMBDA_MAX_CONCURRENCY";

/// Instance slots per concurrent invocation: a standard-queue batch runs its records at once, so
/// one invocation can hold several instances (a record past these waits for none: it fails and is
/// retried by SQS, never dropped).
const SLOTS_PER_INVOCATION: u32 = 10;
/// Fewest slots, as on a one-at-a-time environment (room for a whole default SQS batch).
const MIN_SLOTS: u32 = 64;
/// Most slots: each reserves address space for a linear memory (4 GiB + guard, untouched until
/// used), so this bounds the reservation at about 8 TiB of the 128 TiB a process has.
const MAX_SLOTS: u32 = 2048;

/// Invocations served at once: `value` as `lambda_runtime` reads it (a positive integer; anything
/// else is one at a time), so the pool is sized for the workers it really starts.
pub fn max_concurrency(value: Option<&str>) -> u32 {
    value.and_then(|v| v.parse::<u32>().ok()).filter(|&c| c > 0).unwrap_or(1)
}

/// The engine for `concurrency` invocations at once: enough pooled instance slots for them.
pub fn engine_settings(concurrency: u32) -> EngineSettings {
    let max_instances = concurrency.saturating_mul(SLOTS_PER_INVOCATION).clamp(MIN_SLOTS, MAX_SLOTS);
    EngineSettings { allocator: Allocator::Pooling { max_instances }, ..EngineSettings::default() }
}

/// A warning when `concurrency` guests, each allowed `guest_mb` of linear memory, could take
/// more than the environment's `function_mb` together (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`): the
/// per-guest cap still holds each one, but the process could run out before any cap is hit.
pub fn memory_warning(concurrency: u32, guest_mb: u32, function_mb: Option<u64>) -> Option<String> {
    let function_mb = function_mb?;
    let worst = u64::from(concurrency) * u64::from(guest_mb);
    (concurrency > 1 && worst > function_mb).then(|| {
        format!(
            "{concurrency} concurrent invocations with a {guest_mb} MiB guest memory cap may need {worst} MiB of \
             linear memory, more than the function's {function_mb} MiB: lower limits.memory-mb or the capacity \
             provider's per-environment concurrency, or raise the function's memory"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(concurrency: u32) -> u32 {
        match engine_settings(concurrency).allocator {
            Allocator::Pooling { max_instances } => max_instances,
            Allocator::OnDemand => panic!("Lambda uses the pooling allocator"),
        }
    }

    #[test]
    fn concurrency_is_read_as_lambda_runtime_reads_it() {
        assert_eq!(max_concurrency(None), 1);
        assert_eq!(max_concurrency(Some("8")), 8);
        for bad in ["0", "-2", "eight", ""] {
            assert_eq!(max_concurrency(Some(bad)), 1, "{bad}");
        }
    }

    #[test]
    fn the_pool_grows_with_concurrency_within_its_bounds() {
        assert_eq!(slots(1), MIN_SLOTS);
        assert_eq!(slots(32), 320);
        assert_eq!(slots(1600), MAX_SLOTS);
    }

    #[test]
    fn memory_is_warned_about_only_when_the_guests_together_could_exceed_the_function() {
        assert!(memory_warning(1, 4096, Some(2048)).is_none(), "one at a time: the guest cap is the bound");
        assert!(memory_warning(8, 128, Some(2048)).is_none());
        let warning = memory_warning(32, 128, Some(2048)).expect("32 x 128 MiB > 2048 MiB");
        assert!(warning.contains("4096 MiB") && warning.contains("2048 MiB"), "{warning}");
        assert!(memory_warning(32, 128, None).is_none());
    }
}
