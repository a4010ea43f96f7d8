//! `plugboard:host/test-double`: what a guest's `cargo test` binary sees of its in-memory
//! backends. Linked only into the runtime of `plugboard cargo-runner`
//! ([`crate::runtime::Runtime::for_guest_tests`]); the names a test passes are the guest's
//! logical ones, resolved through the function's grants as every other capability does.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use crate::capabilities::bindings::plugboard::host::queue::OutgoingMessage;
pub use crate::capabilities::bindings::plugboard::host::test_double::InvokeKind;
use crate::capabilities::bindings::plugboard::host::test_double::{self, Error, Invocation};
/// A function error as a stub answers it (the WIT record).
pub use crate::capabilities::bindings::plugboard::host::types::FunctionError;
use crate::capabilities::keyvalue::check_item;
use crate::config::Access;

/// One invoke the code under test made, by physical function name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedInvoke {
    /// The function called (as granted: the physical name).
    pub function: String,
    /// The JSON payload.
    pub payload: String,
    /// How it was made.
    pub kind: InvokeKind,
}

/// The in-memory backends behind a test binary, by physical names.
pub trait TestDoubles: Send + Sync {
    /// Write `value` at `key` in `table`.
    fn seed(&self, table: &str, key: &str, value: Vec<u8>);
    /// What was sent to `queue`, oldest first.
    fn sent(&self, queue: &str) -> Vec<OutgoingMessage>;
    /// Answer later invokes of `function` with `response`.
    fn stub_invoke(&self, function: &str, response: Result<String, FunctionError>);
    /// Every invoke so far, oldest first.
    fn invocations(&self) -> Vec<RecordedInvoke>;
    /// Empty the stores and queues; forget stubs and invokes.
    fn reset(&self);
}

/// The test's view: the doubles and the function's store, queue and invoke grants.
pub(crate) struct TestDoubleView<'a> {
    /// The doubles, when this function has them (only a cargo-runner function does).
    pub doubles: Option<&'a Arc<dyn TestDoubles>>,
    /// Logical store -> (table, access).
    pub stores: &'a BTreeMap<String, (String, Access)>,
    /// Logical queue -> physical queue.
    pub queues: &'a BTreeMap<String, String>,
    /// Logical target -> physical function.
    pub functions: &'a BTreeMap<String, String>,
}

struct HasTestDouble;

impl HasData for HasTestDouble {
    type Data<'a> = TestDoubleView<'a>;
}

/// Link `plugboard:host/test-double` into `linker`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> TestDoubleView<'_>,
) -> wasmtime::Result<()> {
    test_double::add_to_linker::<T, HasTestDouble>(linker, view)
}

impl TestDoubleView<'_> {
    fn doubles(&self) -> wasmtime::Result<&Arc<dyn TestDoubles>> {
        // Only a host bug gets here: the interface is linked for cargo-runner functions only.
        self.doubles.ok_or_else(|| wasmtime::Error::msg("test doubles are linked but this function has none"))
    }
}

/// The refusal for a `kind` named `name` that the function's grants do not hold.
fn not_granted(kind: &str, name: &str) -> Error {
    Error::NotGranted(format!("the function (cases/function.toml) is granted no {kind} `{name}`"))
}

impl test_double::Host for TestDoubleView<'_> {
    async fn seed(&mut self, store: String, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), Error>> {
        let doubles = self.doubles()?;
        let Some((table, _)) = self.stores.get(&store) else {
            return Ok(Err(not_granted("store", &store)));
        };
        // The limits a guest's own write meets: a test cannot seed what DynamoDB would refuse,
        // nor make the host hold more per call than one item.
        if let Err(e) = check_item(&key, Some(&value)) {
            return Ok(Err(Error::InvalidItem(e.to_string())));
        }
        doubles.seed(table, &key, value);
        Ok(Ok(()))
    }

    async fn sent(&mut self, queue: String) -> wasmtime::Result<Result<Vec<OutgoingMessage>, Error>> {
        let doubles = self.doubles()?;
        Ok(self.queues.get(&queue).map(|physical| doubles.sent(physical)).ok_or_else(|| not_granted("queue", &queue)))
    }

    async fn stub_invoke(
        &mut self,
        target: String,
        response: Result<String, FunctionError>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let doubles = self.doubles()?;
        let Some(function) = self.functions.get(&target) else {
            return Ok(Err(not_granted("invoke target", &target)));
        };
        doubles.stub_invoke(function, response);
        Ok(Ok(()))
    }

    async fn invocations(&mut self) -> wasmtime::Result<Vec<Invocation>> {
        let doubles = self.doubles()?;
        // By logical name; two names granted the same function report as one of them.
        let logical: BTreeMap<&String, &String> = self.functions.iter().map(|(l, p)| (p, l)).collect();
        Ok(doubles
            .invocations()
            .into_iter()
            .map(|call| Invocation {
                target: logical.get(&call.function).map_or(call.function.clone(), |l| (*l).clone()),
                payload: call.payload,
                kind: call.kind,
            })
            .collect())
    }

    async fn reset(&mut self) -> wasmtime::Result<()> {
        self.doubles()?.reset();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use test_double::Host as _;

    /// Doubles that only record seeds.
    #[derive(Default)]
    struct Seeds(Mutex<Vec<(String, String, usize)>>);

    impl TestDoubles for Seeds {
        fn seed(&self, table: &str, key: &str, value: Vec<u8>) {
            self.0.lock().unwrap().push((table.into(), key.into(), value.len()));
        }
        fn sent(&self, _: &str) -> Vec<OutgoingMessage> {
            Vec::new()
        }
        fn stub_invoke(&self, _: &str, _: Result<String, FunctionError>) {}
        fn invocations(&self) -> Vec<RecordedInvoke> {
            Vec::new()
        }
        fn reset(&self) {}
    }

    #[test]
    fn a_seed_meets_the_grants_and_item_limits_of_a_guests_own_write() {
        let seeds = Arc::new(Seeds::default());
        let doubles: Arc<dyn TestDoubles> = seeds.clone();
        let stores = BTreeMap::from([("pricing".to_string(), ("pricing-table".to_string(), Access::ReadOnly))]);
        let empty = BTreeMap::new();
        let mut view = TestDoubleView { doubles: Some(&doubles), stores: &stores, queues: &empty, functions: &empty };
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut seed = |store: &str, key: &str, bytes: usize| {
            runtime.block_on(view.seed(store.into(), key.into(), vec![b'x'; bytes])).unwrap()
        };
        assert!(seed("pricing", "tiers", 10).is_ok(), "a read-only grant is seedable");
        assert!(matches!(seed("prices", "tiers", 10), Err(Error::NotGranted(_))));
        assert!(matches!(seed("pricing", "big", 1 << 20), Err(Error::InvalidItem(_))), "over DynamoDB's item size");
        assert!(matches!(seed("pricing", "", 1), Err(Error::InvalidItem(_))));
        assert_eq!(*seeds.0.lock().unwrap(), [("pricing-table".to_string(), "tiers".to_string(), 10)]);
    }
}
