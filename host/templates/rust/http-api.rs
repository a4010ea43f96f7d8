//! {{name}}: an `http-api` guest. `GET /hello?name=...` greets and counts visits in the `data`
//! store; other paths are 404, other methods 405.

use plugboard_guest::serde_json::json;
use plugboard_guest::{HttpHandler, HttpRequest, HttpResponse, HttpResult, Params, Router, atomics, store};

struct Guest;

impl HttpHandler for Guest {
    fn handle(request: HttpRequest) -> HttpResponse {
        Router::new().get("/hello", hello).handle(&request)
    }
}

plugboard_guest::http_api!(Guest, "wit");

fn hello(request: &HttpRequest, _: &Params) -> HttpResult {
    let name = request.query_param("name").unwrap_or("world");
    let bucket = store::open("data").map_err(|e| HttpResponse::error(500, &format!("open data: {e:?}")))?;
    let visits = atomics::increment(&bucket, "visits", 1).map_err(|e| HttpResponse::error(500, &format!("count: {e:?}")))?;
    Ok(HttpResponse::ok(&json!({ "message": format!("hello, {name}"), "visits": visits })))
}
