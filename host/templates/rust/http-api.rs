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

#[cfg(test)]
mod tests {
    use super::*;
    use plugboard_guest::testing;

    // `cargo test` runs this in wasmtime (plugboard cargo-runner, set in .cargo/config.toml),
    // with the `data` store of cases/function.toml in memory.
    #[test]
    fn hello_greets_by_name_and_counts_visits() {
        testing::reset();
        let response = Guest::handle(testing::request("GET", "/hello?name=Ada"));
        assert_eq!(response.status, 200);
        let body: plugboard_guest::serde_json::Value = plugboard_guest::serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body["message"], "hello, Ada");
        Guest::handle(testing::request("GET", "/hello"));
        assert_eq!(store::open("data").unwrap().get("visits").unwrap(), Some(b"2".to_vec()));
    }
}
