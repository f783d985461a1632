use crate::proto::hydra::v1::{
    DeployRequest, DeployResponse, DeploymentService, DeploymentStatus, GetStatusRequest,
    RollbackRequest, deployment_status::Phase,
};
use restate_rs::codec::{Json, Payload};
use restate_rs::prelude::*;

const STATUS: &str = "status";
const HISTORY: &str = "history";

/// `hydra.v1.DeploymentService`: a virtual object per project; deployments of one project are
/// serialized by Restate, each runs as named durable steps.
#[derive(Debug, Default, Clone)]
pub struct Deployments;

impl DeploymentService for Deployments {
    async fn deploy(
        &self,
        ctx: ObjectContext<'_>,
        request: DeployRequest,
    ) -> HandlerResult<DeployResponse> {
        if request.image.is_empty() {
            return Err(TerminalError::new_with_code(400, "image must be set").into());
        }
        let mut history: Vec<String> = ctx
            .get::<Payload<Vec<String>, Json>>(HISTORY)
            .await?
            .map(Payload::into_inner)
            .unwrap_or_default();
        let sequence = history.len() as i64 + 1;
        let deployment_id = format!("{}-{sequence}", ctx.key());
        ctx.set(
            STATUS,
            Payload::<_, Json>::new(DeploymentStatus {
                phase: Phase::Deploying.into(),
                deployment_id: deployment_id.clone(),
                deployments: sequence - 1,
            }),
        );

        let mut steps = Vec::new();
        for step in ["validate build", "pull image", "roll out", "health check"] {
            let image = request.image.clone();
            let done: String = ctx
                .run(|| async move { Ok(format!("{step}: {image}")) })
                .name(step)
                .await?;
            steps.push(done);
        }

        history.push(deployment_id.clone());
        ctx.set(HISTORY, Payload::<_, Json>::new(history));
        ctx.set(
            STATUS,
            Payload::<_, Json>::new(DeploymentStatus {
                phase: Phase::Idle.into(),
                deployment_id: deployment_id.clone(),
                deployments: sequence,
            }),
        );
        Ok(DeployResponse {
            deployment_id,
            steps,
            finished_at: None,
            sequence,
        })
    }

    async fn rollback(
        &self,
        ctx: ObjectContext<'_>,
        request: RollbackRequest,
    ) -> HandlerResult<DeployResponse> {
        let mut history: Vec<String> = ctx
            .get::<Payload<Vec<String>, Json>>(HISTORY)
            .await?
            .map(Payload::into_inner)
            .unwrap_or_default();
        if history.len() < 2 {
            return Err(TerminalError::new_with_code(409, "nothing to roll back to").into());
        }
        history.pop();
        let current = history.last().cloned().unwrap_or_default();
        let sequence = history.len() as i64;
        ctx.set(HISTORY, Payload::<_, Json>::new(history));
        ctx.set(
            STATUS,
            Payload::<_, Json>::new(DeploymentStatus {
                phase: Phase::Idle.into(),
                deployment_id: current.clone(),
                deployments: sequence,
            }),
        );
        Ok(DeployResponse {
            deployment_id: current,
            steps: vec![format!("rolled back: {}", request.reason)],
            finished_at: None,
            sequence,
        })
    }

    async fn get_status(
        &self,
        ctx: SharedObjectContext<'_>,
        _request: GetStatusRequest,
    ) -> HandlerResult<DeploymentStatus> {
        Ok(ctx
            .get::<Payload<DeploymentStatus, Json>>(STATUS)
            .await?
            .map(Payload::into_inner)
            .unwrap_or(DeploymentStatus {
                phase: Phase::Idle.into(),
                ..Default::default()
            }))
    }
}
