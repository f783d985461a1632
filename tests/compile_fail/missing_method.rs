// Without default stubs, every method must be implemented.
use restate_rs::prelude::*;
use restate_rs_examples::proto::scenarios::v1::{AddRequest, Counter, CounterValue};

struct Incomplete;

impl Counter for Incomplete {
    async fn add(&self, _ctx: ObjectContext<'_>, _request: AddRequest) -> HandlerResult<CounterValue> {
        Ok(CounterValue::default())
    }
}

fn main() {}
