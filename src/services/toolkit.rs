//! Worked examples of the toolkit: a sign-up with a reminder and an expiry, and a saga.

use crate::proto::scenarios::v1::{
    OnboardingClick, OnboardingRequest, OnboardingResult, OnboardingStatus, TripRequest,
    TripResult, onboarding_result::Outcome,
};
use restate_rs::pbjson_types::Empty;
use restate_rs::prelude::*;
use restate_rs::toolkit::deadline::{Deadline, within};
use restate_rs::toolkit::saga::{Saga, Strategy};
use restate_rs::toolkit::state::StateKey;
use restate_rs::toolkit::status::{self, WorkflowStatus};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CLICKED: &str = "clicked";
const SECRET: StateKey<String> = StateKey::new("secret");

/// What the examples did, for tests: emails sent, bookings made and undone.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    events: Arc<Mutex<Vec<String>>>,
}

impl Ledger {
    fn record(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }

    /// Everything recorded, in order.
    pub fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    /// How many recorded events start with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.starts_with(prefix))
            .count()
    }
}

/// `scenarios.v1.Onboarding`.
#[derive(Debug, Clone, Default)]
pub struct Onboarding {
    /// Emails go here.
    pub ledger: Ledger,
}

impl crate::proto::scenarios::v1::Onboarding for Onboarding {
    async fn run(
        &self,
        mut ctx: WorkflowContext<'_>,
        request: OnboardingRequest,
    ) -> HandlerResult<OnboardingResult> {
        let secret = restate_rs::toolkit::deterministic::uuid(&mut ctx);
        SECRET.set(&ctx, &secret);
        let mut progress = WorkflowStatus::started("sending verification email", 3);
        status::publish(&ctx, &progress);
        let (ledger, to, link) = (self.ledger.clone(), request.email.clone(), secret.clone());
        ctx.run(|| async move {
            ledger.record(format!("email {to} {link}"));
            Ok(())
        })
        .name("send verification email")
        .await?;
        progress = progress.step_done().in_phase("waiting for the click");
        status::publish(&ctx, &progress);

        let mut reminders = 0;
        let day = Duration::from_secs(24 * 3600);
        let mut clicked = within(&ctx, day, ctx.promise::<String>(CLICKED)).await?;
        if clicked.timed_out() {
            let (ledger, to) = (self.ledger.clone(), request.email.clone());
            ctx.run(|| async move {
                ledger.record(format!("reminder {to}"));
                Ok(())
            })
            .name("send reminder")
            .await?;
            reminders += 1;
            progress = progress
                .step_done()
                .in_phase("reminded, waiting for the click");
            status::publish(&ctx, &progress);
            clicked = within(&ctx, 6 * day, ctx.promise::<String>(CLICKED)).await?;
        }
        let outcome = match clicked {
            Deadline::Value(given) if given == secret => Outcome::Verified,
            Deadline::Value(_) => Outcome::WrongSecret,
            Deadline::Rejected(e) => return Err(e.into()),
            Deadline::TimedOut => Outcome::Expired,
        };
        progress = progress
            .step_done()
            .in_phase(format!("{outcome:?}").to_lowercase());
        if outcome == Outcome::Expired {
            progress = progress.failed("the link was not clicked within 7 days");
        }
        status::publish(&ctx, &progress);
        Ok(OnboardingResult {
            outcome: outcome.into(),
            reminders,
        })
    }

    async fn click(
        &self,
        ctx: SharedWorkflowContext<'_>,
        request: OnboardingClick,
    ) -> HandlerResult<Empty> {
        ctx.resolve_promise::<String>(CLICKED, request.secret);
        Ok(Empty {})
    }

    async fn status(
        &self,
        ctx: SharedWorkflowContext<'_>,
        _request: Empty,
    ) -> HandlerResult<OnboardingStatus> {
        let s = status::read(&ctx).await?;
        Ok(OnboardingStatus {
            phase: s.phase,
            steps_done: s.steps_done,
            steps_total: s.steps_total,
            fraction: s.fraction,
            error: s.error,
        })
    }
}

/// `scenarios.v1.Trip`: flight, hotel, car, as a saga.
#[derive(Debug, Clone, Default)]
pub struct Trip {
    /// Bookings and cancellations go here (idempotent by trip id and item).
    pub ledger: Ledger,
    /// Cancellations already done, per "trip/item": a compensation that runs twice is a no-op.
    pub cancelled: Arc<Mutex<HashMap<String, u32>>>,
}

impl crate::proto::scenarios::v1::Trip for Trip {
    async fn book(&self, ctx: Context<'_>, request: TripRequest) -> HandlerResult<TripResult> {
        let mut saga = Saga::new(Strategy::AllOrNothing);
        let mut booked = Vec::new();
        let result = async {
            for (step, item) in ["flight", "hotel", "car"].into_iter().enumerate() {
                let (ledger, cancelled, trip) = (
                    self.ledger.clone(),
                    self.cancelled.clone(),
                    request.id.clone(),
                );
                saga.compensate(format!("cancel {item}"), move || async move {
                    // Idempotent: cancelling twice is recorded once.
                    let mut done = cancelled.lock().unwrap();
                    let n = done.entry(format!("{trip}/{item}")).or_default();
                    if *n == 0 {
                        ledger.record(format!("cancel {item}"));
                    }
                    *n += 1;
                    Ok(())
                });
                let (ledger, fail) = (self.ledger.clone(), request.fail_at == step as u32 + 1);
                ctx.run(|| async move {
                    if fail {
                        return Err(TerminalError::new_with_code(
                            409,
                            format!("no {item} available"),
                        )
                        .into());
                    }
                    ledger.record(format!("book {item}"));
                    Ok(())
                })
                .name(format!("book {item}"))
                .await?;
                booked.push(item.to_owned());
            }
            Ok(TripResult { booked })
        }
        .await;
        saga.finish(&ctx, result).await
    }
}
