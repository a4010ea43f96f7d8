//! Queue workers for `plugboard dev`, as Lambda's SQS event source runs them: up to
//! `max-concurrency` pollers per queue, each receiving up to `batch-size` messages, calling the
//! worker with a real SQS event and deleting only the messages not reported in
//! `batchItemFailures` (all of them stay on a function error); the rest come back after the
//! visibility timeout and, past the maximum receives, go to the dead-letter queue.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backends::embedded::sqs_event;
use crate::backends::embedded::{EmbeddedQueues, Received};
use crate::manifest::Queue;
use plugboard_core::events::sqs::failed_ids;
use plugboard_core::function::{Function, Invocation};

/// Longest wait for a new message before looking again (delays and visibility timeouts end
/// without a wake-up).
const IDLE_POLL: Duration = Duration::from_millis(100);

/// Failures `plugboard dev --inject-failures PCT` rehearses, as a crash or a lost response
/// would leave them: about PCT% of message deliveries fail, half of them in invocations dropped
/// before the worker runs, half as messages the worker processed but that are reported failed.
/// Either way the message comes back after the visibility timeout.
#[derive(Debug, Clone, Copy, Default)]
pub struct InjectedFailures {
    /// Percent of deliveries to fail, 0..=100.
    pub percent: u8,
}

impl InjectedFailures {
    /// A coin that lands "fail" `percent / 2` times in a hundred.
    fn strikes(self) -> bool {
        self.percent > 0 && (uuid::Uuid::new_v4().as_u128() % 200) < u128::from(self.percent)
    }
}

/// Start `settings.max_concurrency` pollers feeding `queue` to `function`.
pub fn spawn(
    queues: &Arc<EmbeddedQueues>,
    queue: &str,
    settings: &Queue,
    function: &Arc<Function>,
    faults: InjectedFailures,
) {
    for _ in 0..settings.max_concurrency {
        let (queues, function, queue) = (queues.clone(), function.clone(), queue.to_string());
        let batch = settings.batch_size as usize;
        tokio::spawn(async move { poll(&queues, &queue, batch, &function, faults).await });
    }
}

async fn poll(queues: &EmbeddedQueues, queue: &str, batch: usize, function: &Function, faults: InjectedFailures) {
    let Some(waker) = queues.waker(queue) else { return };
    let idle = || tokio::time::timeout(IDLE_POLL, waker.notified());
    loop {
        if !queues.has_visible(queue) {
            let _ = idle().await;
            continue;
        }
        let received = match queues.receive(queue, batch).await {
            // Another poller took it: wait, as when there was nothing.
            Ok(received) if received.is_empty() => {
                let _ = idle().await;
                continue;
            }
            Ok(received) => received,
            Err(e) => {
                tracing::error!(queue, error = %e, "receive failed");
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
        };
        deliver(queues, queue, function, received, faults).await;
    }
}

/// One worker invocation for `received`, then delete what succeeded.
async fn deliver(
    queues: &EmbeddedQueues,
    queue: &str,
    function: &Function,
    received: Vec<Received>,
    faults: InjectedFailures,
) {
    let started = Instant::now();
    if faults.strikes() {
        tracing::warn!(
            queue,
            messages = received.len(),
            "injected failure: the invocation is dropped before the worker runs"
        );
        return;
    }
    let event = sqs_event(queue, &received);
    let invocation = Invocation { request_id: uuid::Uuid::new_v4().to_string(), ..Invocation::default() };
    let outcome = function.invoke(event, invocation).await;
    // A function error, or an answer that is no batch response, leaves every message to retry.
    let all = || received.iter().map(|r| r.message.id.clone()).collect();
    let mut failed: HashSet<String> = outcome.as_ref().ok().and_then(failed_ids).unwrap_or_else(all);
    for r in &received {
        if faults.strikes() && failed.insert(r.message.id.clone()) {
            tracing::warn!(
                queue,
                message_id = r.message.id,
                "injected failure: a processed message is reported failed"
            );
        }
    }
    let done: Vec<String> =
        received.iter().filter(|r| !failed.contains(&r.message.id)).map(|r| r.receipt.clone()).collect();
    let (succeeded, failures) = (done.len(), received.len() - done.len());
    if let Err(e) = queues.delete(queue, done).await {
        tracing::error!(queue, error = %e, "deleting processed messages failed; they will be delivered again");
    }
    let status = match &outcome {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("{}: {}", e.error_type, e.error_message),
    };
    tracing::info!(
        function = function.name(),
        role = %function.role(),
        queue,
        messages = received.len(),
        succeeded,
        failed = failures,
        status,
        duration_ms = super::rounded_ms(started.elapsed()),
        "invocation"
    );
}
