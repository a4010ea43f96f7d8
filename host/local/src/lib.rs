//! Plugboard on one machine: in-memory and embedded (redb) backends, the in-process invoker,
//! functions wired together (`app`), the app manifest, `plugboard dev` and `plugboard test`.

pub mod app;
pub mod backends;
pub mod dev;
pub mod manifest;
pub mod testing;
