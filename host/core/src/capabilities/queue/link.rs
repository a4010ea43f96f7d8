//! `plugboard:host/queue`, linked by hand rather than through `bindgen!`: a generated binding
//! copies every message into host memory before host code runs, and a hostile guest can make
//! thousands of list entries alias one large string, so the copy could be many times the
//! guest's own memory. Here a message is measured where it lies in guest memory (count,
//! attributes, every string's length, each alias counted again) and copied only once it is
//! within SQS's limits.

use wasmtime::StoreContextMut;
use wasmtime::component::{ComponentType, Lift, Linker, WasmList, WasmStr};

use super::{MAX_ATTRIBUTES, MAX_BATCH, MAX_ID_BYTES, MAX_MESSAGE_BYTES, OutgoingMessage, QueueError, QueueView};
use crate::capabilities::bindings::plugboard::host::queue::AttributeValue;
use crate::capabilities::{guest_result, list_element};

/// The interface name the guest imports.
const INTERFACE: &str = "plugboard:host/queue@0.1.0";
/// Longest logical queue name looked up in the grants; anything longer is not granted.
const MAX_NAME_BYTES: usize = 256;

/// An `attribute-value` as it lies in guest memory.
#[derive(ComponentType, Lift)]
#[component(variant)]
enum GuestAttribute {
    #[component(name = "text")]
    Text(WasmStr),
    #[component(name = "number")]
    Number(WasmStr),
    #[component(name = "binary")]
    Binary(WasmList<u8>),
}

/// An `outgoing-message` as it lies in guest memory: nothing copied yet.
#[derive(ComponentType, Lift)]
#[component(record)]
struct GuestMessage {
    body: WasmStr,
    attributes: WasmList<(WasmStr, GuestAttribute)>,
    #[component(name = "delay-seconds")]
    delay_seconds: Option<u32>,
    #[component(name = "group-id")]
    group_id: Option<WasmStr>,
    #[component(name = "deduplication-id")]
    deduplication_id: Option<WasmStr>,
}

/// Link `send` and `send-batch` into `linker`.
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> QueueView<'_>,
) -> wasmtime::Result<()> {
    let mut queue = linker.instance(INTERFACE)?;
    queue.func_wrap_async(
        "send",
        move |mut store: StoreContextMut<'_, T>, (name, message): (WasmStr, GuestMessage)| {
            Box::new(async move {
                let lifted = lift_name(&store, &name).and_then(|name| Ok((name, lift_message(&mut store, &message)?)));
                let result = match lifted {
                    Ok((name, message)) => view(store.data_mut()).send(&name, message).await,
                    Err(e) => Err(e),
                };
                Ok((guest_result(result)?,))
            })
        },
    )?;
    queue.func_wrap_async(
        "send-batch",
        move |mut store: StoreContextMut<'_, T>, (name, messages): (WasmStr, WasmList<GuestMessage>)| {
            Box::new(async move {
                let lifted = lift_name(&store, &name).and_then(|name| Ok((name, lift_batch(&mut store, &messages)?)));
                let result = match lifted {
                    Ok((name, messages)) => view(store.data_mut()).send_batch(&name, messages).await,
                    Err(e) => Err(e),
                };
                Ok((guest_result(result)?,))
            })
        },
    )?;
    Ok(())
}

fn trap(e: wasmtime::Error) -> QueueError {
    QueueError::Trap(e)
}

fn invalid(message: String) -> QueueError {
    QueueError::InvalidMessage(message)
}

/// The logical queue name, copied only when it is short enough to be a grant.
fn lift_name<T: 'static>(store: &StoreContextMut<'_, T>, name: &WasmStr) -> Result<String, QueueError> {
    let name = name.to_str(store).map_err(trap)?;
    if name.len() > MAX_NAME_BYTES {
        return Err(QueueError::AccessDenied);
    }
    Ok(name.into_owned())
}

/// One message, measured in place and copied once it is within SQS's limits.
fn lift_message<T: 'static>(
    store: &mut StoreContextMut<'_, T>,
    message: &GuestMessage,
) -> Result<OutgoingMessage, QueueError> {
    let size = measure(store, message)?;
    if size > MAX_MESSAGE_BYTES {
        return Err(invalid(format!("message is {size} bytes; the limit is {MAX_MESSAGE_BYTES}")));
    }
    copy(store, message)
}

/// A batch: its length checked before any entry is read, its total size before any is copied.
fn lift_batch<T: 'static>(
    store: &mut StoreContextMut<'_, T>,
    list: &WasmList<GuestMessage>,
) -> Result<Vec<OutgoingMessage>, QueueError> {
    if list.len() == 0 || list.len() > MAX_BATCH {
        return Err(invalid(format!("a batch holds 1 to {MAX_BATCH} messages, not {}", list.len())));
    }
    let mut messages = Vec::with_capacity(list.len());
    let mut total = 0usize;
    for i in 0..list.len() {
        let message = list_element::<_, QueueError>(list.get(&mut *store, i))?;
        total = total.saturating_add(measure(store, &message)?);
        messages.push(message);
    }
    if total > MAX_MESSAGE_BYTES {
        return Err(invalid(format!("batch is {total} bytes; the limit is {MAX_MESSAGE_BYTES}")));
    }
    messages.iter().map(|message| copy(store, message)).collect()
}

/// The size SQS counts for `message` (as `super::message_size`), read in guest memory; ids over
/// SQS's 128 bytes and more than [`MAX_ATTRIBUTES`] attributes are refused on the spot.
fn measure<T: 'static>(store: &mut StoreContextMut<'_, T>, message: &GuestMessage) -> Result<usize, QueueError> {
    if message.attributes.len() > MAX_ATTRIBUTES {
        return Err(invalid(format!("{} attributes; the limit is {MAX_ATTRIBUTES}", message.attributes.len())));
    }
    for (what, id) in [("message group id", &message.group_id), ("deduplication id", &message.deduplication_id)] {
        let len = id.as_ref().map_or(Ok(0), |id| id.to_str(&*store).map(|s| s.len())).map_err(trap)?;
        if len > MAX_ID_BYTES {
            return Err(invalid(format!("the {what} is {len} bytes; the limit is {MAX_ID_BYTES}")));
        }
    }
    let mut size = message.body.to_str(&*store).map_err(trap)?.len();
    for i in 0..message.attributes.len() {
        let (name, value) = list_element::<_, QueueError>(message.attributes.get(&mut *store, i))?;
        let value_len = match &value {
            GuestAttribute::Text(s) => "String".len() + s.to_str(&*store).map_err(trap)?.len(),
            GuestAttribute::Number(s) => "Number".len() + s.to_str(&*store).map_err(trap)?.len(),
            GuestAttribute::Binary(b) => "Binary".len() + b.len(),
        };
        size = size.saturating_add(name.to_str(&*store).map_err(trap)?.len()).saturating_add(value_len);
    }
    Ok(size)
}

/// Copy a measured message into the host.
fn copy<T: 'static>(store: &mut StoreContextMut<'_, T>, message: &GuestMessage) -> Result<OutgoingMessage, QueueError> {
    let text = |store: &StoreContextMut<'_, T>, s: &WasmStr| s.to_str(store).map(|c| c.into_owned()).map_err(trap);
    let mut attributes = Vec::with_capacity(message.attributes.len());
    for i in 0..message.attributes.len() {
        let (name, value) = list_element::<_, QueueError>(message.attributes.get(&mut *store, i))?;
        let value = match value {
            GuestAttribute::Text(s) => AttributeValue::Text(text(store, &s)?),
            GuestAttribute::Number(s) => AttributeValue::Number(text(store, &s)?),
            GuestAttribute::Binary(b) => AttributeValue::Binary(b.as_le_slice(&*store).to_vec()),
        };
        attributes.push((text(store, &name)?, value));
    }
    Ok(OutgoingMessage {
        body: text(store, &message.body)?,
        attributes,
        delay_seconds: message.delay_seconds,
        group_id: message.group_id.as_ref().map(|s| text(store, s)).transpose()?,
        deduplication_id: message.deduplication_id.as_ref().map(|s| text(store, s)).transpose()?,
    })
}
