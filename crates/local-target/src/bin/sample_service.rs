//! `release-desk-sample-service --root <dir> --port <port>`: the sample
//! service the local target runs on each leg. It serves one unpacked artefact
//! on 127.0.0.1: `/` is its `public/index.html`, `/healthz` reports its
//! version, and every answer carries `x-release-version`. Its manifest's
//! `behaviour` makes it healthy, fail its smoke test, or fail during its soak
//! (after taking live traffic for a while it answers 500, then exits). It
//! reads only its root, writes nothing, and on SIGTERM stops accepting,
//! finishes the requests it has and exits 0.
//!
//! hyper (already in the tree through reqwest) serves HTTP/1.1 with
//! keep-alive and many connections at once, which nginx relies on; a single
//! threaded runtime is plenty for a demo service and starts fast.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use release_desk_local_target::{Behaviour, Manifest, DIGEST_FILE, VERSION_HEADER};

/// How long in-flight requests get after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long a soak-failing version answers 500 before it exits.
const CRASH_AFTER_FAILING: Duration = Duration::from_secs(2);
/// The header nginx adds to proxied requests: live traffic, as opposed to a
/// health check sent straight to the leg.
const VIA_HEADER: &str = "x-release-desk-via";

struct Service {
    manifest: Manifest,
    digest: Option<String>,
    index: Bytes,
    /// When this instance first took live traffic.
    live_since: OnceLock<Instant>,
}

impl Service {
    fn failing(&self) -> bool {
        match self.manifest.behaviour() {
            Behaviour::Healthy | Behaviour::FailsSmoke => false,
            Behaviour::FailsSoak { fail_after_secs } => self
                .live_since
                .get()
                .is_some_and(|since| since.elapsed() >= Duration::from_secs(fail_after_secs)),
        }
    }

    fn answer(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        if request.headers().contains_key(VIA_HEADER) && self.live_since.set(Instant::now()).is_ok()
        {
            if let Behaviour::FailsSoak { fail_after_secs } = self.manifest.behaviour() {
                schedule_crash(Duration::from_secs(fail_after_secs) + CRASH_AFTER_FAILING);
            }
        }
        let (status, content_type, body) = if self.failing() {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                Bytes::from_static(b"failing\n"),
            )
        } else {
            match request.uri().path() {
                "/healthz" => {
                    let status = if self.manifest.behaviour() == Behaviour::FailsSmoke {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    };
                    let body = serde_json::json!({
                        "version": self.manifest.version,
                        "digest": self.digest,
                    });
                    (status, "application/json", Bytes::from(body.to_string()))
                }
                "/" | "/index.html" => (
                    StatusCode::OK,
                    "text/html; charset=utf-8",
                    self.index.clone(),
                ),
                _ => (
                    StatusCode::NOT_FOUND,
                    "text/plain",
                    Bytes::from_static(b"not found\n"),
                ),
            }
        };
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            "content-type",
            hyper::header::HeaderValue::from_static(content_type),
        );
        // Versions are checked to be header-safe when the artefact is built.
        if let Ok(value) = hyper::header::HeaderValue::from_str(&self.manifest.version) {
            headers.insert(VERSION_HEADER, value);
        }
        response
    }
}

fn schedule_crash(after: Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        eprintln!("fails_soak: exiting, as this version is built to");
        std::process::exit(1);
    });
}

fn arguments() -> Result<(PathBuf, u16), String> {
    let mut root = None;
    let mut port = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--root" => root = args.next().map(PathBuf::from),
            "--port" => port = args.next().and_then(|p| p.parse::<u16>().ok()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    match (root, port) {
        (Some(root), Some(port)) => Ok((root, port)),
        _ => Err("usage: release-desk-sample-service --root <dir> --port <port>".to_owned()),
    }
}

fn load(root: &std::path::Path) -> Result<Service, String> {
    let manifest_path = root.join("release.json");
    let bytes = std::fs::read(&manifest_path)
        .map_err(|e| format!("cannot read {}: {e}", manifest_path.display()))?;
    let manifest = Manifest::parse(&bytes).map_err(|e| e.message)?;
    let index_path = root.join("public/index.html");
    let index = std::fs::read(&index_path)
        .map_err(|e| format!("cannot read {}: {e}", index_path.display()))?;
    let digest = std::fs::read_to_string(root.join(DIGEST_FILE))
        .ok()
        .map(|d| d.trim().to_owned());
    Ok(Service {
        manifest,
        digest,
        index: Bytes::from(index),
        live_since: OnceLock::new(),
    })
}

fn main() -> ExitCode {
    let (root, port) = match arguments() {
        Ok(args) => args,
        Err(why) => {
            eprintln!("{why}");
            return ExitCode::from(2);
        }
    };
    let service = match load(&root) {
        Ok(service) => Arc::new(service),
        Err(why) => {
            eprintln!("{why}");
            return ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(service, port)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("{why}");
            ExitCode::from(1)
        }
    }
}

async fn serve(service: Arc<Service>, port: u16) -> Result<(), String> {
    let address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot watch for SIGTERM: {e}"))?;
    println!(
        "serving {} {} ({:?}) on {address}",
        service.manifest.service,
        service.manifest.version,
        service.manifest.behaviour()
    );
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let http = hyper::server::conn::http1::Builder::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let service = service.clone();
                let handler = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let answer = service.answer(&request);
                    async move { Ok::<_, Infallible>(answer) }
                });
                let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), handler));
                tokio::spawn(async move {
                    // A client going away mid-request is its business, not an error here.
                    let _ = connection.await;
                });
            }
            _ = terminate.recv() => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("requests still open {SHUTDOWN_GRACE:?} after SIGTERM; exiting anyway");
    }
    println!("stopped on SIGTERM");
    Ok(())
}
