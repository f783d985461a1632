// A shared handler gets a SharedObjectContext, which can read state but not write it.
use restate_rs::prelude::*;
use restate_rs_examples::proto::scenarios::v1::{AddRequest, Counter, CounterValue};
use restate_rs::pbjson_types::Empty;

struct Broken;

impl Counter for Broken {
    async fn add(&self, _ctx: ObjectContext<'_>, _request: AddRequest) -> HandlerResult<CounterValue> {
        Ok(CounterValue::default())
    }

    async fn get(&self, ctx: SharedObjectContext<'_>, _request: Empty) -> HandlerResult<CounterValue> {
        ctx.set("value", 1i64);
        Ok(CounterValue::default())
    }
}

fn main() {}
