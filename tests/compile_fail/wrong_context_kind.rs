// The generated trait fixes the context type per handler kind: an exclusive handler cannot be
// implemented with a shared context.
use restate_rs::prelude::*;
use restate_rs_examples::proto::scenarios::v1::{AddRequest, Counter, CounterValue};
use restate_rs::pbjson_types::Empty;

struct Broken;

impl Counter for Broken {
    async fn add(&self, _ctx: SharedObjectContext<'_>, _request: AddRequest) -> HandlerResult<CounterValue> {
        Ok(CounterValue::default())
    }

    async fn get(&self, _ctx: SharedObjectContext<'_>, _request: Empty) -> HandlerResult<CounterValue> {
        Ok(CounterValue::default())
    }
}

fn main() {}
