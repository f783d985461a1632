//! The `scenarios.v1` services of the crash sweep ([`Sweep`], [`SweepLedger`],
//! [`SweepApproval`]): each step's side effect is logged as the chain's are
//! (`exec <tag> 0` inside the step, `done <tag> 0` once the handler saw it completed).

use super::scenarios::log_line;
use crate::proto::scenarios::v1::{SweepClient, SweepLedgerClient, SweepReply, SweepRequest};
use restate_rs::pbjson_types::Empty;
use restate_rs::prelude::*;
use std::path::PathBuf;
use std::time::Duration;

/// One durable step logged under `$tag`.
macro_rules! logged_step {
    ($ctx:expr, $log:expr, $tag:expr) => {{
        let (log, tag): (&Option<PathBuf>, String) = ($log, $tag);
        let (step_log, step_tag) = (log.clone(), tag.clone());
        $ctx.run(|| async move {
            log_line(&step_log, &format!("exec {step_tag} 0"));
            Ok(())
        })
        .name("step")
        .await?;
        log_line(log, &format!("done {tag} 0"));
    }};
}

/// `scenarios.v1.Sweep`.
#[derive(Debug, Clone, Default)]
pub struct Sweep {
    /// The side-effect log.
    pub log: Option<PathBuf>,
}

impl crate::proto::scenarios::v1::Sweep for Sweep {
    async fn step(&self, ctx: Context<'_>, request: SweepRequest) -> HandlerResult<SweepReply> {
        logged_step!(ctx, &self.log, request.tag.clone());
        Ok(SweepReply { value: request.tag })
    }

    async fn nap(&self, ctx: Context<'_>, request: SweepRequest) -> HandlerResult<SweepReply> {
        ctx.sleep(Duration::from_millis(request.millis)).await?;
        logged_step!(ctx, &self.log, request.tag.clone());
        Ok(SweepReply { value: request.tag })
    }

    async fn awake(&self, ctx: Context<'_>, request: SweepRequest) -> HandlerResult<SweepReply> {
        let (id, value) = ctx.awakeable::<String>();
        ctx.service_client::<SweepClient<'_>>()
            .resolve(SweepRequest {
                tag: request.tag.clone(),
                awakeable_id: id,
                ..Default::default()
            })
            .send();
        let value = value.await?;
        logged_step!(ctx, &self.log, request.tag.clone());
        Ok(SweepReply { value })
    }

    async fn resolve(&self, ctx: Context<'_>, request: SweepRequest) -> HandlerResult<Empty> {
        ctx.resolve_awakeable(&request.awakeable_id, format!("resolved {}", request.tag));
        Ok(Empty {})
    }

    async fn call_ledger(
        &self,
        ctx: Context<'_>,
        request: SweepRequest,
    ) -> HandlerResult<SweepReply> {
        let key = request.key.clone();
        Ok(ctx
            .object_client::<SweepLedgerClient<'_>>(key)
            .record(request)
            .call()
            .await?)
    }
}

/// `scenarios.v1.SweepLedger`.
#[derive(Debug, Clone, Default)]
pub struct SweepLedger {
    /// The side-effect log.
    pub log: Option<PathBuf>,
}

impl crate::proto::scenarios::v1::SweepLedger for SweepLedger {
    async fn record(
        &self,
        ctx: ObjectContext<'_>,
        request: SweepRequest,
    ) -> HandlerResult<SweepReply> {
        logged_step!(ctx, &self.log, request.tag.clone());
        let mut ledger = ctx.get::<String>("ledger").await?.unwrap_or_default();
        if !ledger.is_empty() {
            ledger.push(',');
        }
        ledger.push_str(&request.tag);
        ctx.set("ledger", ledger.clone());
        Ok(SweepReply { value: ledger })
    }

    async fn read(
        &self,
        ctx: SharedObjectContext<'_>,
        _request: Empty,
    ) -> HandlerResult<SweepReply> {
        Ok(SweepReply {
            value: ctx.get::<String>("ledger").await?.unwrap_or_default(),
        })
    }
}

/// `scenarios.v1.SweepApproval`.
#[derive(Debug, Clone, Default)]
pub struct SweepApproval {
    /// The side-effect log.
    pub log: Option<PathBuf>,
}

impl crate::proto::scenarios::v1::SweepApproval for SweepApproval {
    async fn run(
        &self,
        ctx: WorkflowContext<'_>,
        request: SweepRequest,
    ) -> HandlerResult<SweepReply> {
        let approval = ctx.promise::<String>("approval").await?;
        logged_step!(ctx, &self.log, request.tag.clone());
        Ok(SweepReply { value: approval })
    }

    async fn approve(
        &self,
        ctx: SharedWorkflowContext<'_>,
        request: SweepRequest,
    ) -> HandlerResult<Empty> {
        ctx.resolve_promise("approval", request.tag);
        Ok(Empty {})
    }
}

/// `scenarios.v1.Ephemeral`: answers at once; its retention is declared in the proto.
#[derive(Debug, Clone, Default)]
pub struct Ephemeral;

impl crate::proto::scenarios::v1::Ephemeral for Ephemeral {
    async fn echo(&self, _ctx: Context<'_>, request: SweepRequest) -> HandlerResult<SweepReply> {
        Ok(SweepReply { value: request.tag })
    }
}
