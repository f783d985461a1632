//! A `tracing` span per invocation (service, handler, key, invocation id) and per toolkit
//! step, seen by an ordinary subscriber.

use restate_rs::engine::{Engine, Target};
use restate_rs::prelude::*;
use restate_rs_examples::proto::scenarios::v1::{CounterServer, TripServer};
use restate_rs_examples::services::scenarios::{Counter, Probe};
use restate_rs_examples::services::toolkit::Trip;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn spans_name_the_invocation_and_its_steps() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_span_events(FmtSpan::CLOSE)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let endpoint = Endpoint::builder()
        .bind(CounterServer::new(Counter {
            probe: Probe::default(),
        }))
        .bind(TripServer::new(Trip::default()))
        .build();
    let engine = Engine::builder(endpoint).in_memory().await.unwrap();
    let submitted = engine
        .invoke(
            Target::keyed("scenarios.v1.Counter", "traced", "Add"),
            r#"{"delta": 1}"#,
            Default::default(),
        )
        .await
        .unwrap();
    engine.attach(&submitted.invocation_id).await.unwrap();
    let _ = engine
        .call(
            Target::service("scenarios.v1.Trip", "Book"),
            r#"{"id": "x", "failAt": 2}"#,
        )
        .await;
    engine.shutdown().await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("restate.invocation") && l.contains("scenarios.v1.Counter"))
        .unwrap_or_else(|| panic!("no invocation span in:\n{text}"));
    assert!(
        line.contains("restate.handler=\"Add\"") || line.contains("restate.handler=Add"),
        "{line}"
    );
    assert!(
        line.contains("restate.key=\"traced\"") || line.contains("restate.key=traced"),
        "{line}"
    );
    assert!(line.contains(&submitted.invocation_id), "{line}");
    assert!(
        text.contains("restate.step") && text.contains("compensate: cancel flight"),
        "{text}"
    );
}
