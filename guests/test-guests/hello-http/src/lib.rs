//! The reference of the `plugboard dev` benchmark: the smallest `wasi:http` handler, served by
//! `wasmtime serve`, so Plugboard's rates are read against wasmtime's own HTTP path.

use std::io::Write as _;

use wasip2::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

wasip2::http::proxy::export!(Hello);

struct Hello;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, response_out: ResponseOutparam) {
        let response = OutgoingResponse::new(Fields::new());
        let Ok(body) = response.body() else { return };
        ResponseOutparam::set(response_out, Ok(response));
        if let Ok(mut out) = body.write() {
            let _ = out.write_all(b"hello");
            let _ = out.flush();
        }
        let _ = OutgoingBody::finish(body, None);
    }
}
