//! Simple Web Service: CRUD on JSON items stored in the `items` key-value store.
//!
//! Routes: `GET /items`, `POST /items`, `GET|PUT|DELETE /items/{id}`, and
//! `GET /items/{id}/quote?quantity=N`, which asks the `quotes` internal API for a price.

use plugboard_guest::atomics::{self, Cas, CasError};
use plugboard_guest::kv::{self, KvError};
use plugboard_guest::serde_json::{Value, json};
use plugboard_guest::store::{self, Bucket};
use plugboard_guest::{HttpRequest, HttpResponse, invoke};

plugboard_guest::role!("http-api", "../../wit");

struct ItemsApi;

impl exports::plugboard::host::http_handler::Guest for ItemsApi {
    fn handle(request: HttpRequest) -> HttpResponse {
        match route(&request) {
            Ok(response) => response,
            Err(e) => HttpResponse::error(500, &e.to_string()),
        }
    }
}

export!(ItemsApi);

/// Longest item id accepted; keeps keys well inside DynamoDB's 2 KB key limit.
const MAX_ID_LEN: usize = 128;

fn route(request: &HttpRequest) -> Result<HttpResponse, KvError> {
    let segments = request.segments();
    let method = request.method.as_str();
    match (method, segments.as_slice()) {
        ("GET", ["items"]) => list(&open()?),
        ("POST", ["items"]) => create(&open()?, &request.body),
        ("GET", ["items", id]) => get(&open()?, id),
        ("PUT", ["items", id]) => put(&open()?, id, &request.body),
        ("DELETE", ["items", id]) => delete(&open()?, id),
        ("GET", ["items", id, "quote"]) => quote(&open()?, id, request.query_param("quantity")),
        (_, ["items"]) | (_, ["items", _]) | (_, ["items", _, "quote"]) => {
            Ok(HttpResponse::error(405, "method not allowed"))
        }
        _ => Ok(HttpResponse::error(404, "no such route")),
    }
}

fn open() -> Result<Bucket, KvError> {
    Ok(store::open("items")?)
}

fn list(bucket: &Bucket) -> Result<HttpResponse, KvError> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = bucket.list_keys(cursor.as_deref())?;
        for key in &page.keys {
            if let Some(item) = kv::get_json::<Value>(bucket, key)? {
                items.push(item);
            }
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(HttpResponse::json(200, &json!({ "items": items })))
}

fn get(bucket: &Bucket, id: &str) -> Result<HttpResponse, KvError> {
    Ok(match kv::get_json::<Value>(bucket, id)? {
        Some(item) => HttpResponse::json(200, &item),
        None => HttpResponse::error(404, "item not found"),
    })
}

/// Parse a body into an item object, checking the id when one is given or present.
fn parse_item(body: &[u8], path_id: Option<&str>) -> Result<(String, Value), HttpResponse> {
    let mut item: Value = serde_json::from_slice(body)
        .map_err(|e| HttpResponse::error(400, &format!("body is not valid JSON: {e}")))?;
    let object = item
        .as_object_mut()
        .ok_or_else(|| HttpResponse::error(400, "body must be a JSON object"))?;
    let id = match (path_id, object.get("id")) {
        (Some(path), Some(Value::String(body_id))) if body_id != path => {
            return Err(HttpResponse::error(400, "id in body does not match the path"));
        }
        (Some(path), _) => path.to_string(),
        (None, Some(Value::String(body_id))) => body_id.clone(),
        (None, _) => return Err(HttpResponse::error(400, "field `id` (a string) is required")),
    };
    let valid = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(HttpResponse::error(
            400,
            "id must be 1-128 characters of letters, digits, '-' and '_'",
        ));
    }
    object.insert("id".into(), Value::String(id.clone()));
    Ok((id, item))
}

/// Create an item only if its id is free: compare-and-swap makes two racing creates give one 409.
fn create(bucket: &Bucket, body: &[u8]) -> Result<HttpResponse, KvError> {
    let (id, item) = match parse_item(body, None) {
        Ok(parsed) => parsed,
        Err(response) => return Ok(response),
    };
    let cas = Cas::new(bucket, &id)?;
    if cas.current()?.is_some() {
        return Ok(HttpResponse::error(409, "an item with this id already exists"));
    }
    let bytes = serde_json::to_vec(&item).map_err(KvError::Json)?;
    match atomics::swap(cas, &bytes) {
        Ok(()) => {
            let mut response = HttpResponse::json(201, &item);
            response.headers.push(("location".into(), format!("/items/{id}")));
            Ok(response)
        }
        Err(CasError::CasFailed(_)) => {
            Ok(HttpResponse::error(409, "an item with this id already exists"))
        }
        Err(CasError::StoreError(e)) => Err(e.into()),
    }
}

fn put(bucket: &Bucket, id: &str, body: &[u8]) -> Result<HttpResponse, KvError> {
    let (id, item) = match parse_item(body, Some(id)) {
        Ok(parsed) => parsed,
        Err(response) => return Ok(response),
    };
    let existed = bucket.exists(&id)?;
    kv::set_json(bucket, &id, &item)?;
    Ok(HttpResponse::json(if existed { 200 } else { 201 }, &item))
}

fn delete(bucket: &Bucket, id: &str) -> Result<HttpResponse, KvError> {
    if !bucket.exists(id)? {
        return Ok(HttpResponse::error(404, "item not found"));
    }
    bucket.delete(id)?;
    Ok(HttpResponse::empty(204))
}

/// Price `quantity` units of an item through the `quotes` internal API.
fn quote(bucket: &Bucket, id: &str, quantity: Option<&str>) -> Result<HttpResponse, KvError> {
    let Some(item) = kv::get_json::<Value>(bucket, id)? else {
        return Ok(HttpResponse::error(404, "item not found"));
    };
    let Some(quantity) = quantity.unwrap_or("1").parse::<u32>().ok().filter(|q| *q > 0) else {
        return Ok(HttpResponse::error(400, "quantity must be a positive integer"));
    };
    let Some(unit_price) = item.get("price").and_then(Value::as_f64) else {
        return Ok(HttpResponse::error(422, "item has no numeric `price`"));
    };
    let payload = json!({ "sku": id, "unit_price": unit_price, "quantity": quantity });
    Ok(match invoke::call("quotes", &payload.to_string()) {
        Ok(answer) => match serde_json::from_str::<Value>(&answer) {
            Ok(quote) => HttpResponse::json(200, &quote),
            Err(_) => HttpResponse::error(502, "quotes service answered with invalid JSON"),
        },
        Err(invoke::Error::FunctionFailed(e)) if e.error_type == "ValidationError" => {
            HttpResponse::error(400, &e.message)
        }
        Err(e) => HttpResponse::error(502, &format!("quotes service failed: {e:?}")),
    })
}
