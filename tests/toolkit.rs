//! The toolkit's worked examples on the test harness: virtual time (a week passes in an
//! instant), crash injection (a crash in the middle of a saga's compensations), and what ran
//! once.

use restate_rs::engine::{CrashPoint, EngineError, InvokeOptions, Target};
use restate_rs::harness::TestEngine;
use restate_rs::pbjson_types::Empty;
use restate_rs::prelude::*;
use restate_rs_examples::proto::scenarios::v1::{
    OnboardingClick, OnboardingIngressClient, OnboardingRequest, OnboardingServer,
    TripIngressClient, TripRequest, TripServer, onboarding_result::Outcome,
};
use restate_rs_examples::services::toolkit::{Ledger, Onboarding, Trip};
use std::time::{Duration, Instant};

async fn harness(ledger: &Ledger) -> (TestEngine, Trip) {
    let trip = Trip {
        ledger: ledger.clone(),
        ..Default::default()
    };
    let endpoint = Endpoint::builder()
        .bind(OnboardingServer::new(Onboarding {
            ledger: ledger.clone(),
        }))
        .bind(TripServer::new(trip.clone()))
        .build();
    (TestEngine::start(endpoint).await.unwrap(), trip)
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn signup_reminds_after_a_day_and_expires_after_a_week() {
    let ledger = Ledger::default();
    let (test, _) = harness(&ledger).await;
    let onboarding = OnboardingIngressClient::new(test.ingress());
    onboarding
        .submit(
            "lazy@example.com",
            OnboardingRequest {
                email: "lazy@example.com".into(),
            },
        )
        .await
        .unwrap();
    eventually("the email", || async { ledger.count("email") == 1 }).await;
    let status = onboarding
        .status("lazy@example.com", Empty {})
        .call()
        .await
        .unwrap();
    assert_eq!(
        (status.phase.as_str(), status.steps_done),
        ("waiting for the click", 1)
    );

    // A day passes: one reminder. Six more: expired. In milliseconds, not a week.
    let started = Instant::now();
    assert!(test.advance_to_next_timer().await.unwrap());
    eventually("the reminder", || async { ledger.count("reminder") == 1 }).await;
    assert!(test.advance_to_next_timer().await.unwrap());
    let result = onboarding.attach("lazy@example.com").await.unwrap();
    assert_eq!(result.outcome(), Outcome::Expired);
    assert_eq!(result.reminders, 1);
    assert!(started.elapsed() < Duration::from_secs(5));
    let status = onboarding
        .status("lazy@example.com", Empty {})
        .call()
        .await
        .unwrap();
    assert_eq!(
        status.error.as_deref(),
        Some("the link was not clicked within 7 days")
    );
    assert_eq!(
        ledger.count("email"),
        1,
        "the email was sent again on replay"
    );
}

#[tokio::test]
async fn signup_clicked_after_the_reminder() {
    let ledger = Ledger::default();
    let (test, _) = harness(&ledger).await;
    let onboarding = OnboardingIngressClient::new(test.ingress());
    let email = "slow@example.com";
    onboarding
        .submit(
            email,
            OnboardingRequest {
                email: email.into(),
            },
        )
        .await
        .unwrap();
    eventually("the email", || async { ledger.count("email") == 1 }).await;
    test.advance(Duration::from_secs(25 * 3600));
    eventually("the reminder", || async { ledger.count("reminder") == 1 }).await;
    let secret = ledger.events()[0].rsplit(' ').next().unwrap().to_owned();
    onboarding
        .click(email, OnboardingClick { secret })
        .call()
        .await
        .unwrap();
    let result = onboarding.attach(email).await.unwrap();
    assert_eq!((result.outcome(), result.reminders), (Outcome::Verified, 1));
}

#[tokio::test]
async fn saga_fails_at_step_3_and_compensates_in_reverse() {
    let ledger = Ledger::default();
    let (test, _) = harness(&ledger).await;
    let trip = TripIngressClient::new(test.ingress());
    let err = trip
        .book(TripRequest {
            id: "t1".into(),
            fail_at: 3,
        })
        .call()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(409));
    assert!(err.to_string().contains("no car available"), "{err}");
    assert_eq!(
        ledger.events(),
        [
            "book flight",
            "book hotel",
            "cancel car",
            "cancel hotel",
            "cancel flight"
        ]
    );

    let ok = trip
        .book(TripRequest {
            id: "t2".into(),
            fail_at: 0,
        })
        .call()
        .await
        .unwrap();
    assert_eq!(ok.booked, ["flight", "hotel", "car"]);
}

#[tokio::test]
async fn crash_in_the_middle_of_compensation_runs_each_compensation_to_completion_once() {
    let ledger = Ledger::default();
    let (test, trip) = harness(&ledger).await;
    // Crash after "cancel hotel" ran but before its result was journaled: it runs again on
    // replay, which its idempotence absorbs; "cancel car" (journaled) does not run again.
    test.crash(
        Target::service("scenarios.v1.Trip", "Book"),
        CrashPoint::BeforeStepCompletes("compensate: cancel hotel".into()),
    );
    let submitted = test
        .invoke(
            Target::service("scenarios.v1.Trip", "Book"),
            r#"{"id": "t3", "failAt": 3}"#,
            InvokeOptions::default(),
        )
        .await
        .unwrap();
    let err = test.attach(&submitted.invocation_id).await.unwrap_err();
    assert!(
        matches!(err, EngineError::Terminal { code: 409, .. }),
        "{err}"
    );
    let runs = trip.cancelled.lock().unwrap().clone();
    assert_eq!(
        runs.get("t3/car"),
        Some(&1),
        "a journaled compensation ran again: {runs:?}"
    );
    assert_eq!(
        runs.get("t3/hotel"),
        Some(&2),
        "the crash should have re-run the unjournaled compensation: {runs:?}"
    );
    assert_eq!(runs.get("t3/flight"), Some(&1));
    assert_eq!(
        ledger.count("cancel"),
        3,
        "each cancellation is recorded once"
    );
    let details = test.describe(&submitted.invocation_id).await.unwrap();
    assert_eq!(details.summary.attempts, 1, "exactly one crash");
}

#[tokio::test]
async fn crash_after_a_journaled_step_does_not_run_it_again() {
    let ledger = Ledger::default();
    let (test, _) = harness(&ledger).await;
    test.crash(
        Target::service("scenarios.v1.Trip", "Book"),
        CrashPoint::AfterStepCompletes("book hotel".into()),
    );
    let ok = TripIngressClient::new(test.ingress())
        .book(TripRequest {
            id: "t4".into(),
            fail_at: 0,
        })
        .call()
        .await
        .unwrap();
    assert_eq!(ok.booked, ["flight", "hotel", "car"]);
    assert_eq!(ledger.count("book hotel"), 1);
    assert_eq!(ledger.count("book flight"), 1);

    test.crash(
        Target::service("scenarios.v1.Trip", "Book"),
        CrashPoint::AfterEntries(3),
    );
    TripIngressClient::new(test.ingress())
        .book(TripRequest {
            id: "t5".into(),
            fail_at: 0,
        })
        .call()
        .await
        .unwrap();
    assert_eq!(
        ledger.count("book flight"),
        2,
        "one more trip booked, each step once"
    );
}

#[tokio::test]
async fn seeding_state_and_promises() {
    let ledger = Ledger::default();
    let (test, _) = harness(&ledger).await;
    let onboarding = OnboardingIngressClient::new(test.ingress());
    let email = "seeded@example.com";
    onboarding
        .submit(
            email,
            OnboardingRequest {
                email: email.into(),
            },
        )
        .await
        .unwrap();
    eventually("the email", || async { ledger.count("email") == 1 }).await;
    let state = test.state("scenarios.v1.Onboarding", email).await.unwrap();
    let secret: String =
        serde_json::from_slice(&state.iter().find(|(k, _)| k == "secret").unwrap().1).unwrap();
    assert_eq!(
        test.promise("scenarios.v1.Onboarding", email, "clicked")
            .await
            .unwrap(),
        None
    );
    assert!(
        test.complete_promise(
            "scenarios.v1.Onboarding",
            email,
            "clicked",
            Ok(format!("\"{secret}\"").into())
        )
        .await
        .unwrap()
    );
    assert!(
        !test
            .complete_promise(
                "scenarios.v1.Onboarding",
                email,
                "clicked",
                Ok("\"x\"".into())
            )
            .await
            .unwrap()
    );
    assert_eq!(
        onboarding.attach(email).await.unwrap().outcome(),
        Outcome::Verified
    );
}
