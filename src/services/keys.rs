//! The `scenarios.v1` services whose keys the proto declares (`proto/scenarios/v1/keys.proto`).

use crate::proto::scenarios::v1::{
    LedgerEntry, LedgerQuery, LedgerState, ProjectLedgerClient, Promotion,
};
use restate_rs::prelude::*;

/// The builds kept in state, as `7,8`.
fn builds(state: Option<String>) -> Vec<u64> {
    state
        .unwrap_or_default()
        .split(',')
        .filter_map(|b| b.parse().ok())
        .collect()
}

/// `scenarios.v1.ProjectLedger`: the builds recorded per project.
#[derive(Debug, Clone, Default)]
pub struct ProjectLedger;

impl crate::proto::scenarios::v1::ProjectLedger for ProjectLedger {
    async fn record(
        &self,
        ctx: ObjectContext<'_>,
        request: LedgerEntry,
    ) -> HandlerResult<LedgerState> {
        let mut builds = builds(ctx.get::<String>("builds").await?);
        builds.push(request.build_id);
        let text: Vec<String> = builds.iter().map(u64::to_string).collect();
        ctx.set("builds", text.join(","));
        Ok(LedgerState {
            key: ctx.key().to_owned(),
            builds,
        })
    }

    async fn read(
        &self,
        ctx: SharedObjectContext<'_>,
        _request: LedgerQuery,
    ) -> HandlerResult<LedgerState> {
        Ok(LedgerState {
            key: ctx.key().to_owned(),
            builds: builds(ctx.get::<String>("builds").await?),
        })
    }
}

/// `scenarios.v1.TierLedger`: promotions per application and tier.
#[derive(Debug, Clone, Default)]
pub struct TierLedger;

impl crate::proto::scenarios::v1::TierLedger for TierLedger {
    async fn promote(
        &self,
        ctx: ObjectContext<'_>,
        _request: Promotion,
    ) -> HandlerResult<LedgerState> {
        let promotions = ctx.get::<u64>("promotions").await?.unwrap_or(0) + 1;
        ctx.set("promotions", promotions);
        Ok(LedgerState {
            key: ctx.key().to_owned(),
            builds: vec![promotions],
        })
    }

    async fn describe(
        &self,
        ctx: SharedObjectContext<'_>,
        _request: LedgerQuery,
    ) -> HandlerResult<LedgerState> {
        Ok(LedgerState {
            key: ctx.key().to_owned(),
            builds: vec![ctx.get::<u64>("promotions").await?.unwrap_or(0)],
        })
    }
}

/// `scenarios.v1.ActorOnboarding`: one run per actor.
#[derive(Debug, Clone, Default)]
pub struct ActorOnboarding;

impl crate::proto::scenarios::v1::ActorOnboarding for ActorOnboarding {
    async fn run(
        &self,
        ctx: WorkflowContext<'_>,
        _request: Promotion,
    ) -> HandlerResult<LedgerState> {
        Ok(LedgerState {
            key: ctx.key().to_owned(),
            builds: Vec::new(),
        })
    }
}

/// `scenarios.v1.LedgerRelay`: records through the generated context client, keyless.
#[derive(Debug, Clone, Default)]
pub struct LedgerRelay;

impl crate::proto::scenarios::v1::LedgerRelay for LedgerRelay {
    async fn relay(&self, ctx: Context<'_>, request: LedgerEntry) -> HandlerResult<LedgerState> {
        // The project's key and the idempotency key come from the request.
        let state = ctx
            .service_client::<ProjectLedgerClient<'_>>()
            .record(request)?
            .call()
            .await?;
        Ok(state)
    }
}
