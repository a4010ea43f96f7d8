//! {{name}}: an `http-api` guest. `GET /hello?name=...` greets and counts visits in the `data`
//! store; other paths are 404, other methods 405.

use plugboard_guest::{HttpHandler, HttpRequest, HttpResponse, HttpResult, Params, Router, atomics, serde_json::json, store};

struct Guest;

impl HttpHandler for Guest {
    fn handle(request: HttpRequest) -> HttpResponse { Router::new().get("/hello", hello).handle(&request) }
}

plugboard_guest::http_api!(Guest);

fn hello(request: &HttpRequest, _: &Params) -> HttpResult {
    let visits = atomics::increment(&store::open("data")?, "visits", 1)?;
    Ok(HttpResponse::ok(&json!({ "message": format!("hello, {}", request.query_param("name").unwrap_or("world")), "visits": visits })))
}
