//! HTTP routes, one `router()` per feature module.

pub mod families;
pub mod health;
pub mod openapi;
pub mod sync;
