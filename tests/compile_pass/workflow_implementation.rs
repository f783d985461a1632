// A workflow's run handler writes state and awaits promises; its shared handlers read state
// and resolve promises.
use restate_rs::prelude::*;
use restate_rs_examples::proto::hydra::v1::*;

struct Signups;

impl SignupWorkflow for Signups {
    async fn run(&self, ctx: WorkflowContext<'_>, request: SignupRequest) -> HandlerResult<SignupResult> {
        ctx.set("status", "started".to_owned());
        let clicked: String = ctx.promise::<String>("clicked").await?;
        Ok(SignupResult { verified: clicked == request.email, user_id: String::new() })
    }

    async fn click(&self, ctx: SharedWorkflowContext<'_>, request: ClickRequest) -> HandlerResult<ClickResponse> {
        ctx.resolve_promise::<String>("clicked", request.secret);
        Ok(ClickResponse {})
    }

    async fn get_status(&self, ctx: SharedWorkflowContext<'_>, _request: GetSignupStatusRequest) -> HandlerResult<SignupStatus> {
        Ok(SignupStatus { status: ctx.get::<String>("status").await?.unwrap_or_default() })
    }
}

fn main() {
    let _ = Endpoint::builder().bind(SignupWorkflowServer::new(Signups)).build();
}
