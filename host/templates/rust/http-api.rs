//! {{name}}: an `http-api` guest. `GET /hello?name=...` greets and counts visits in the `data`
//! store; everything else is 404.

use plugboard_guest::{HttpRequest, HttpResponse, atomics, store};
use plugboard_guest::serde_json::json;

plugboard_guest::role!("http-api", "wit");

struct Guest;

impl exports::plugboard::host::http_handler::Guest for Guest {
    fn handle(request: HttpRequest) -> HttpResponse {
        match (request.method.as_str(), request.segments().as_slice()) {
            ("GET", ["hello"]) => hello(&request),
            _ => HttpResponse::error(404, "no such route"),
        }
    }
}

fn hello(request: &HttpRequest) -> HttpResponse {
    let name = request.query_param("name").unwrap_or("world");
    let visits = store::open("data").and_then(|bucket| atomics::increment(&bucket, "visits", 1));
    match visits {
        Ok(visits) => HttpResponse::json(200, &json!({ "message": format!("hello, {name}"), "visits": visits })),
        Err(e) => HttpResponse::error(500, &format!("store: {e:?}")),
    }
}

export!(Guest);
