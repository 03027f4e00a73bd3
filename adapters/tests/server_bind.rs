//! Starting a server: typed errors for a taken address, a setting that can never work, and
//! `bind_tokio` outside a tokio runtime.
#![cfg(any(feature = "tokio", feature = "smol", feature = "async-std"))]

#[macro_use]
mod server_support;

use resock::{ServerBuilder, ServerError};
use server_support::Rt;

on_server_runtimes!(a_taken_address_and_a_zero_bound_are_typed_errors);

fn a_taken_address_and_a_zero_bound_are_typed_errors<R: Rt>() {
    let rt = R::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let error = rt.try_bind_at(ServerBuilder::new(), &addr).unwrap_err();
    assert!(matches!(error, ServerError::Bind { .. }), "{error}");
    assert!(
        error.to_string().starts_with(&format!("listening on {addr}: ")),
        "{error}"
    );

    let error = rt
        .try_bind_at(ServerBuilder::new().max_connections(0), "127.0.0.1:0")
        .unwrap_err();
    assert!(
        matches!(&error, ServerError::Config(config) if config.setting == "max_connections"),
        "{error}"
    );
    let error = rt.try_bind_at(ServerBuilder::new(), "no port here").unwrap_err();
    assert!(matches!(error, ServerError::Bind { .. }), "{error}");
}

#[cfg(feature = "tokio")]
#[test]
fn bind_tokio_outside_a_runtime_says_so() {
    let error = ServerBuilder::new().bind_tokio("127.0.0.1:0").unwrap_err();
    assert!(matches!(error, ServerError::Runtime(_)), "{error}");
    assert!(error.to_string().contains("tokio runtime"), "{error}");
}
