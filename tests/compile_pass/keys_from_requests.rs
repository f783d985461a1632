// Keys declared in the proto: the context client is made without a key where every handler
// declares one, or with one; calls that build keys from the request can be refused, so they
// answer a `Result` before the call.
use restate_rs::prelude::*;
use restate_rs_examples::proto::scenarios::v1::{
    LedgerEntry, LedgerQuery, LedgerState, ProjectLedgerClient, Promotion, TierLedgerClient,
};

async fn calls(ctx: Context<'_>) -> HandlerResult<LedgerState> {
    let keyless = ctx.service_client::<ProjectLedgerClient<'_>>();
    keyless.record(LedgerEntry::default())?.send();
    let explicit = ctx.object_client::<ProjectLedgerClient<'_>>("p-1");
    let _ = explicit.read(LedgerQuery::default())?.call().await?;
    // A handler without a declared key keeps the plain call.
    let _ = ctx
        .object_client::<TierLedgerClient<'_>>("app:TIER_STAGING")
        .describe(LedgerQuery::default())
        .call()
        .await?;
    let _ = ctx
        .object_client::<TierLedgerClient<'_>>("ignored")
        .promote(Promotion::default())?;
    Ok(explicit.record(LedgerEntry::default())?.call().await?)
}

fn main() {
    let _ = calls;
}
