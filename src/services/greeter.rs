use crate::proto::hydra::v1::{GreetRequest, GreetResponse, Greeter};
use restate_rs::pbjson_types::Empty;
use restate_rs::prelude::*;

/// `hydra.v1.Greeter`: a stateless service.
#[derive(Debug, Default, Clone)]
pub struct Greetings;

impl Greeter for Greetings {
    async fn greet(
        &self,
        _ctx: Context<'_>,
        request: GreetRequest,
    ) -> HandlerResult<GreetResponse> {
        if request.name.trim().is_empty() {
            return Err(TerminalError::new_with_code(400, "name must not be empty").into());
        }
        Ok(GreetResponse {
            message: format!("Hello, {}!", request.name),
        })
    }

    async fn ping(&self, _ctx: Context<'_>, _request: Empty) -> HandlerResult<Empty> {
        Ok(Empty {})
    }
}
