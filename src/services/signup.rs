use crate::proto::hydra::v1::{
    ClickRequest, ClickResponse, GetSignupStatusRequest, SignupRequest, SignupResult, SignupStatus,
    SignupWorkflow,
};
use restate_rs::prelude::*;

const STATUS: &str = "onboarding_status";
const CLICKED: &str = "email.clicked";

/// `hydra.v1.SignupWorkflow`: create the user, email a link with a secret, wait for the click.
#[derive(Debug, Default, Clone)]
pub struct Signups;

impl SignupWorkflow for Signups {
    async fn run(
        &self,
        mut ctx: WorkflowContext<'_>,
        request: SignupRequest,
    ) -> HandlerResult<SignupResult> {
        let email = request.email.clone();
        let user_id: String = ctx
            .run(|| async move { Ok(format!("user-{email}")) })
            .name("create user")
            .await?;
        ctx.set(STATUS, "Created user".to_owned());

        let secret = ctx.rand_uuid().to_string();
        let link = secret.clone();
        ctx.run(|| async move {
            tracing_free_log(&format!("verification link sent: /verify?secret={link}"));
            Ok(())
        })
        .name("send email")
        .await?;
        ctx.set(STATUS, "Verifying user".to_owned());

        let clicked: String = ctx.promise::<String>(CLICKED).await?;
        ctx.set(STATUS, "Link clicked".to_owned());
        Ok(SignupResult {
            verified: clicked == secret,
            user_id,
        })
    }

    async fn click(
        &self,
        ctx: SharedWorkflowContext<'_>,
        request: ClickRequest,
    ) -> HandlerResult<ClickResponse> {
        ctx.resolve_promise::<String>(CLICKED, request.secret);
        Ok(ClickResponse {})
    }

    async fn get_status(
        &self,
        ctx: SharedWorkflowContext<'_>,
        _request: GetSignupStatusRequest,
    ) -> HandlerResult<SignupStatus> {
        let status = ctx
            .get::<String>(STATUS)
            .await?
            .unwrap_or_else(|| "Unknown".to_owned());
        Ok(SignupStatus { status })
    }
}

fn tracing_free_log(line: &str) {
    eprintln!("{line}");
}
