// A context client without a key exists only where the proto declares the key of every
// handler: `TierLedger` declares it on `Promote` alone, so its `Describe` needs an explicit
// key, and `service_client` does not make one.
use restate_rs::prelude::*;
use restate_rs_examples::proto::scenarios::v1::{Promotion, TierLedgerClient};

async fn promote(ctx: Context<'_>) -> HandlerResult<()> {
    ctx.service_client::<TierLedgerClient<'_>>()
        .promote(Promotion::default())?
        .send();
    Ok(())
}

fn main() {}
