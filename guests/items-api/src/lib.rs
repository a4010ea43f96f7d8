//! Simple Web Service: CRUD on JSON items stored in the `items` key-value store.
//!
//! Routes: `GET /items`, `POST /items`, `GET|PUT|DELETE /items/{id}`, and
//! `GET /items/{id}/quote?quantity=N`, which asks the `quotes` internal API for a price.

use plugboard_guest::kv;
use plugboard_guest::serde_json::{Value, json};
use plugboard_guest::store::{self, Bucket};
use plugboard_guest::{HttpHandler, HttpRequest, HttpResponse, HttpResult, Params, Router, call_json, invoke};

struct ItemsApi;

impl HttpHandler for ItemsApi {
    fn handle(request: HttpRequest) -> HttpResponse {
        Router::new()
            .get("/items", list)
            .post("/items", create)
            .get("/items/{id}", get)
            .put("/items/{id}", put)
            .delete("/items/{id}", delete)
            .get("/items/{id}/quote", quote)
            .handle(&request)
    }
}

plugboard_guest::http_api!(ItemsApi);

/// Longest item id accepted; keeps keys well inside DynamoDB's 2 KB key limit.
const MAX_ID_LEN: usize = 128;

fn open() -> Result<Bucket, HttpResponse> {
    store::open("items").map_err(|e| HttpResponse::error(500, &format!("open items: {e:?}")))
}

fn id(params: &Params) -> &str {
    params.get("id").unwrap_or_default()
}

fn list(_: &HttpRequest, _: &Params) -> HttpResult {
    let bucket = open()?;
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = bucket.list_keys(cursor.as_deref()).map_err(kv::KvError::from)?;
        for key in &page.keys {
            if let Some(item) = kv::get_json::<Value>(&bucket, key)? {
                items.push(item);
            }
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(HttpResponse::ok(&json!({ "items": items })))
}

fn get(_: &HttpRequest, params: &Params) -> HttpResult {
    Ok(match kv::get_json::<Value>(&open()?, id(params))? {
        Some(item) => HttpResponse::ok(&item),
        None => HttpResponse::error(404, "item not found"),
    })
}

/// Parse a body into an item object, checking the id when one is given or present.
fn parse_item(body: &[u8], path_id: Option<&str>) -> Result<(String, Value), HttpResponse> {
    let mut item: Value =
        serde_json::from_slice(body).map_err(|e| HttpResponse::error(400, &format!("body is not valid JSON: {e}")))?;
    let object = item.as_object_mut().ok_or_else(|| HttpResponse::error(400, "body must be a JSON object"))?;
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
        return Err(HttpResponse::error(400, "id must be 1-128 characters of letters, digits, '-' and '_'"));
    }
    object.insert("id".into(), Value::String(id.clone()));
    Ok((id, item))
}

/// Create an item only if its id is free: compare-and-swap makes two racing creates give one 409.
fn create(request: &HttpRequest, _: &Params) -> HttpResult {
    let (id, item) = parse_item(&request.body, None)?;
    if !kv::create_json(&open()?, &id, &item)? {
        return Err(HttpResponse::error(409, "an item with this id already exists"));
    }
    Ok(HttpResponse::json(201, &item).with_header("location", &format!("/items/{id}")))
}

fn put(request: &HttpRequest, params: &Params) -> HttpResult {
    let (id, item) = parse_item(&request.body, Some(id(params)))?;
    let bucket = open()?;
    let existed = bucket.exists(&id).map_err(kv::KvError::from)?;
    kv::set_json(&bucket, &id, &item)?;
    Ok(HttpResponse::json(if existed { 200 } else { 201 }, &item))
}

fn delete(_: &HttpRequest, params: &Params) -> HttpResult {
    let bucket = open()?;
    if !bucket.exists(id(params)).map_err(kv::KvError::from)? {
        return Err(HttpResponse::error(404, "item not found"));
    }
    bucket.delete(id(params)).map_err(kv::KvError::from)?;
    Ok(HttpResponse::empty(204))
}

/// Price `quantity` units of an item through the `quotes` internal API.
fn quote(request: &HttpRequest, params: &Params) -> HttpResult {
    let Some(item) = kv::get_json::<Value>(&open()?, id(params))? else {
        return Err(HttpResponse::error(404, "item not found"));
    };
    let Some(quantity) = request.query_param("quantity").unwrap_or("1").parse::<u32>().ok().filter(|q| *q > 0) else {
        return Err(HttpResponse::error(400, "quantity must be a positive integer"));
    };
    let Some(unit_price) = item.get("price").and_then(Value::as_f64) else {
        return Err(HttpResponse::error(422, "item has no numeric `price`"));
    };
    let request = json!({ "sku": id(params), "unit_price": unit_price, "quantity": quantity });
    match call_json::<_, Value>("quotes", &request) {
        Ok(quote) => Ok(HttpResponse::ok(&quote)),
        Err(invoke::Error::FunctionFailed(e)) if e.error_type == "ValidationError" => {
            Err(HttpResponse::error(400, &e.message))
        }
        Err(invoke::Error::Other(reason)) if reason.contains("invalid JSON") => {
            Err(HttpResponse::error(502, "quotes service answered with invalid JSON"))
        }
        Err(e) => Err(HttpResponse::error(502, &format!("quotes service failed: {e:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugboard_guest::testing;

    fn json_body(response: &HttpResponse) -> Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn a_created_item_is_read_back_and_a_second_create_conflicts() {
        testing::reset();
        let create = || testing::request("POST", "/items").with_body(r#"{"id":"lamp","price":20}"#);
        let created = ItemsApi::handle(create());
        assert_eq!(created.status, 201);
        assert_eq!(
            created.headers,
            [
                ("content-type".to_string(), "application/json".to_string()),
                ("location".to_string(), "/items/lamp".to_string())
            ]
        );
        assert_eq!(ItemsApi::handle(create()).status, 409);
        let read = ItemsApi::handle(testing::request("GET", "/items/lamp"));
        assert_eq!(json_body(&read), json!({ "id": "lamp", "price": 20 }));
    }

    #[test]
    fn a_quote_asks_the_quotes_function_and_passes_its_validation_error_on() {
        testing::reset();
        testing::seed_json("items", "lamp", &json!({ "id": "lamp", "price": 20.0 }));
        testing::stub_invoke("quotes", &json!({ "total": 190.0 }));
        let quoted = ItemsApi::handle(testing::request("GET", "/items/lamp/quote?quantity=10"));
        assert_eq!((quoted.status, json_body(&quoted)), (200, json!({ "total": 190.0 })));
        let calls = testing::invocations();
        assert_eq!(calls.len(), 1);
        assert_eq!((calls[0].target.as_str(), calls[0].kind), ("quotes", testing::InvokeKind::RequestResponse));
        assert_eq!(
            serde_json::from_str::<Value>(&calls[0].payload).unwrap(),
            json!({ "sku": "lamp", "unit_price": 20.0, "quantity": 10 })
        );
        testing::stub_invoke_error("quotes", "ValidationError", "quantity must be 1..=1000000");
        let refused = ItemsApi::handle(testing::request("GET", "/items/lamp/quote?quantity=10"));
        assert_eq!(
            (refused.status, json_body(&refused)["message"].clone()),
            (400, json!("quantity must be 1..=1000000"))
        );
    }
}
