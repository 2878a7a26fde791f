//! `isolution serve`.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use oci_export::registry::server::{router, Registry};

use crate::args::ServeArgs;
use crate::Outcome;

pub fn run(a: ServeArgs) -> anyhow::Result<Outcome> {
    let registry = Arc::new(Registry::open(&a.isos)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&a.addr)
            .await
            .with_context(|| format!("cannot listen on {}", a.addr))?;
        let local = listener.local_addr()?;
        eprintln!(
            "isolution: serving {} repositories on http://{local}/v2/ ({})",
            registry.repositories().len(),
            registry.repositories().join(", ")
        );
        let quiet = a.quiet;
        let app = router(registry)
            .layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                    let (m, u) = (req.method().clone(), req.uri().clone());
                    let t = Instant::now();
                    let r = next.run(req).await;
                    if !quiet {
                        eprintln!(
                            "{m} {u} {} {:.1}ms",
                            r.status().as_u16(),
                            t.elapsed().as_secs_f64() * 1e3
                        );
                    }
                    r
                },
            ))
            .layer(tower::limit::ConcurrencyLimitLayer::new(
                a.max_requests.max(1),
            ));
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown())
            .await
            .context("server failed")?;
        eprintln!("isolution: stopped");
        anyhow::Ok(())
    })?;
    Ok(Outcome::Clean)
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
