//! `reserveplace-hello`: the reference for read throughput. A bare hyper 1 HTTP/1.1 server on the
//! same runtime flavour as the local runtime (multi-threaded tokio) that answers every request with
//! a fixed JSON body of about a MyPage row's size, so the load tool's `get` scenario against it
//! measures what HTTP and the client alone cost on this machine, in the same run as the real reads.
use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

#[derive(Parser, Debug)]
#[command(
    name = "reserveplace-hello",
    about = "Fixed-body hyper server: the read reference."
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3900")]
    addr: SocketAddr,
}

/// The size of a MyPage row as the API answers it, so both sides move the same bytes.
const BODY: &str = r#"{"reservationId":"0193f0c4-0000-7000-8000-000000000000","userId":"load-user-0","placeId":"0193f0c4-0000-7000-8000-000000000001","placeName":"load place 0","checkIn":"2026-12-06","checkOut":"2026-12-07","rooms":1,"amount":10000,"reservationStatus":"CONFIRMED","paymentStatus":"APPROVED","updatedAt":"2026-12-01T23:40:00.000Z","version":4}"#;

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut resp = Response::new(Full::new(Bytes::from_static(BODY.as_bytes())));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("reserveplace-hello listening on http://{addr}");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            // A refused or reset connection is the client's problem; keep serving the others.
            Err(_) => continue,
        };
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
}
