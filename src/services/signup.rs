use crate::proto::hydra::v1::{
    ClickRequest, ClickResponse, GetSignupStatusRequest, SignupRequest, SignupResult, SignupStatus,
    SignupWorkflow,
};
use restate_rs::prelude::*;
use std::sync::{Arc, Mutex};

const STATUS: &str = "onboarding_status";
const CLICKED: &str = "email.clicked";

/// `hydra.v1.SignupWorkflow`: create the user, email a link with a secret, wait for the click.
#[derive(Debug, Default, Clone)]
pub struct Signups {
    /// Where verification emails go.
    pub outbox: Outbox,
}

/// The verification emails sent, standing in for a mail service. Clones share.
#[derive(Debug, Default, Clone)]
pub struct Outbox {
    sent: Arc<Mutex<Vec<(String, String)>>>,
    echo: bool,
    file: Option<std::path::PathBuf>,
}

impl Outbox {
    /// An outbox that also prints each email.
    pub fn printing() -> Self {
        Self {
            echo: true,
            ..Self::default()
        }
    }

    /// A printing outbox kept in a file (one `email secret` line per email), so that emails
    /// sent by an earlier run of the program are still there.
    pub fn in_file(path: impl Into<std::path::PathBuf>) -> Self {
        let path = path.into();
        let sent = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(to, secret)| (to.to_owned(), secret.to_owned()))
            .collect();
        Self {
            sent: Arc::new(Mutex::new(sent)),
            echo: true,
            file: Some(path),
        }
    }

    fn send(&self, email: &str, secret: &str) {
        if self.echo {
            println!("   (mail) to {email}: verify at /verify?secret={secret}");
        }
        if let Some(path) = &self.file {
            use std::io::Write;
            if let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = writeln!(file, "{email} {secret}");
                let _ = file.sync_data();
            }
        }
        self.sent
            .lock()
            .unwrap()
            .push((email.to_owned(), secret.to_owned()));
    }

    /// The secret of the last email sent to `email`.
    pub fn secret_for(&self, email: &str) -> Option<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(to, _)| to == email)
            .map(|(_, s)| s.clone())
    }

    /// How many emails went to `email`.
    pub fn count_for(&self, email: &str) -> usize {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(to, _)| to == email)
            .count()
    }
}

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
        let (outbox, to, link) = (self.outbox.clone(), request.email.clone(), secret.clone());
        ctx.run(|| async move {
            outbox.send(&to, &link);
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
