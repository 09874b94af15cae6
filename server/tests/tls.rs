//! Transport security: HTTPS with rustls on a self-signed certificate (a real handshake on
//! loopback), and the refusal to serve plain HTTP off loopback unless explicitly allowed.

mod common;

use std::time::Duration;

use migru_server::AppState;

/// Writes a fresh self-signed certificate for `localhost` and its key; returns the cert PEM.
fn self_signed(dir: &std::path::Path) -> String {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = certified.cert.pem();
    std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).unwrap();
    cert_pem
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_the_given_certificate_and_nothing_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let cert_pem = self_signed(dir.path());
    let (store, _db) = common::sqlite().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let server = tokio::spawn(async move {
        let state = AppState::new(store, common::test_limits());
        let shutdown = async move {
            let _ = stopped.await;
        };
        migru_server::http::serve_tls(listener, state, &cert, &key, shutdown, Duration::from_secs(5)).await
    });

    // A client that trusts only this certificate, reaching `localhost` on the test port.
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/healthz", addr.port());
    let mut response = None;
    for _ in 0..100 {
        match client.get(&url).send().await {
            Ok(r) => {
                response = Some(r);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let response = response.expect("HTTPS request failed");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);

    // A client that does not trust the certificate is refused by its own verification…
    let untrusting = reqwest::Client::builder().use_rustls_tls().resolve("localhost", addr).build().unwrap();
    assert!(untrusting.get(&url).send().await.is_err());
    // …and plain HTTP on the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new().get(format!("http://127.0.0.1:{}/healthz", addr.port())).send().await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[test]
fn a_missing_key_file_is_an_error_naming_the_files() {
    let dir = tempfile::tempdir().unwrap();
    self_signed(dir.path());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let err = runtime
        .block_on(async {
            let (store, _db) = common::sqlite().await;
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let state = AppState::new(store, common::test_limits());
            let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("absent.pem"));
            migru_server::http::serve_tls(listener, state, &cert, &key, std::future::pending(), Duration::ZERO).await
        })
        .unwrap_err();
    assert!(err.to_string().contains("absent.pem"), "{err}");
}

/// The real binary, as an operator would start it.
fn serve(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("s.db").display());
    std::process::Command::new(env!("CARGO_BIN_EXE_migru-server"))
        .args(["serve", "--database-url", &db, "--job-workers", "0"])
        .args(args)
        .env_remove("MIGRU_ALLOW_INSECURE_PUBLIC")
        .output()
        .unwrap()
}

#[test]
fn plain_http_off_loopback_is_refused_before_listening() {
    let out = serve(&["--listen", "0.0.0.0:0"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing plain HTTP on 0.0.0.0:0") && stderr.contains("--tls-cert"), "{stderr}");
    let out = serve(&["--listen", "[::]:0"]);
    assert!(!out.status.success(), "IPv6 any-address too");
}

#[test]
fn a_certificate_without_a_key_is_refused() {
    let out = serve(&["--listen", "0.0.0.0:0", "--tls-cert", "cert.pem"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}
