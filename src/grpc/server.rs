//! The gRPC server: Optuna's `optuna.StorageService` over any [`Storage`].
//!
//! Each call runs the storage call on tokio's blocking pool, so calls of many clients reach the
//! storage at once (a [`crate::JournalStorage`] then shares `fdatasync`s among them, and answers
//! reads while a write is synced); `GetTrial` is answered on the calling task instead when the
//! storage can answer at once ([`Storage::try_get_trial_now`]), and finished trials' wire form
//! is kept ([`super::wire_cache`]). Errors map to the status Optuna's servicer gives: not found
//! -> `NOT_FOUND`, duplicate study name -> `ALREADY_EXISTS`, finished trial ->
//! `FAILED_PRECONDITION`, invalid argument (also an attribute that is not JSON, a distribution
//! that does not parse) -> `INVALID_ARGUMENT`, each with a message naming the id or name; a
//! storage failure (I/O, a poisoned handle) -> `UNAVAILABLE`. Requests larger than
//! [`MAX_MESSAGE_BYTES`] are refused (`RESOURCE_EXHAUSTED`) before they are read whole.

// tonic's handlers return `Result<_, Status>`; its size is tonic's choice.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::sync::Arc;

use tonic::{Code, Request, Response, Status};

use super::proto::storage_service_server::{StorageService, StorageServiceServer};
use super::proto::*;
use super::wire_cache::WireCache;
use super::{
    attr_from_wire, attr_to_wire, direction_from_proto, direction_to_proto, state_from_proto,
    study_to_proto, trial_from_proto,
};
use crate::error::Error;
use crate::journal::optuna_codec::distribution_from_json;
use crate::storage::Storage;

/// The largest request the server reads (gRPC's usual default, 4 MiB): a bigger one gets
/// `RESOURCE_EXHAUSTED`, so no request makes the server hold unbounded memory.
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// The status Optuna's servicer gives for `e`.
pub fn status_of(e: &Error) -> Status {
    let msg = e.to_string();
    match e {
        Error::StudyNotFound { .. }
        | Error::StudyNameNotFound { .. }
        | Error::TrialNotFound { .. }
        | Error::TrialNumberNotFound { .. }
        | Error::ParamNotFound { .. } => Status::not_found(msg),
        Error::DuplicateStudyName { .. } => Status::already_exists(msg),
        Error::TrialFinished { .. } => Status::failed_precondition(msg),
        Error::InvalidArgument(_)
        | Error::IncompatibleDistribution { .. }
        | Error::NotRepresentable { .. }
        | Error::MultiObjectiveStudy { .. } => Status::invalid_argument(msg),
        _ => Status::unavailable(msg),
    }
}

/// The service over `storage`.
pub struct Service {
    storage: Arc<dyn Storage>,
    wire: Arc<WireCache>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").finish_non_exhaustive()
    }
}

impl Service {
    /// A service answering from `storage`.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Service { storage, wire: Arc::new(WireCache::new()) }
    }

    /// The tonic service, with the request size limit.
    pub fn into_server(self) -> StorageServiceServer<Self> {
        StorageServiceServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(usize::MAX)
    }

    /// Runs `f` on the storage on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Storage) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Status> {
        let storage = Arc::clone(&self.storage);
        match tokio::task::spawn_blocking(move || f(&*storage)).await {
            Ok(r) => r.map_err(|e| status_of(&e)),
            Err(e) => Err(Status::internal(format!("the storage call failed: {e}"))),
        }
    }
}

/// A study id from the wire: a negative one names no study.
fn study_id(v: i64) -> Result<u64, Error> {
    u64::try_from(v).map_err(|_| Error::StudyNotFound { study_id: v as u64 })
}

/// A trial id from the wire: a negative one names no trial.
fn trial_id(v: i64) -> Result<u64, Error> {
    u64::try_from(v).map_err(|_| Error::TrialNotFound { trial_id: v as u64 })
}

fn reply<T>(t: T) -> Result<Response<T>, Status> {
    Ok(Response::new(t))
}

#[tonic::async_trait]
impl StorageService for Service {
    async fn create_new_study(
        &self,
        r: Request<CreateNewStudyRequest>,
    ) -> Result<Response<CreateNewStudyReply>, Status> {
        let r = r.into_inner();
        let directions: Vec<_> = r.directions.iter().map(|d| direction_from_proto(*d)).collect();
        let id = self.run(move |s| s.create_new_study(&directions, Some(&r.study_name))).await?;
        reply(CreateNewStudyReply { study_id: id as i64 })
    }

    async fn delete_study(
        &self,
        r: Request<DeleteStudyRequest>,
    ) -> Result<Response<DeleteStudyReply>, Status> {
        let r = r.into_inner();
        self.run(move |s| s.delete_study(study_id(r.study_id)?)).await?;
        reply(DeleteStudyReply {})
    }

    async fn set_study_user_attribute(
        &self,
        r: Request<SetStudyUserAttributeRequest>,
    ) -> Result<Response<SetStudyUserAttributeReply>, Status> {
        let r = r.into_inner();
        self.run(move |s| {
            let value = attr_from_wire(&r.key, &r.value)?;
            s.set_study_user_attr(study_id(r.study_id)?, &r.key, value)
        })
        .await?;
        reply(SetStudyUserAttributeReply {})
    }

    async fn set_study_system_attribute(
        &self,
        r: Request<SetStudySystemAttributeRequest>,
    ) -> Result<Response<SetStudySystemAttributeReply>, Status> {
        let r = r.into_inner();
        self.run(move |s| {
            let value = attr_from_wire(&r.key, &r.value)?;
            s.set_study_system_attr(study_id(r.study_id)?, &r.key, value)
        })
        .await?;
        reply(SetStudySystemAttributeReply {})
    }

    async fn get_study_id_from_name(
        &self,
        r: Request<GetStudyIdFromNameRequest>,
    ) -> Result<Response<GetStudyIdFromNameReply>, Status> {
        let r = r.into_inner();
        let id = self.run(move |s| s.get_study_id_from_name(&r.study_name)).await?;
        reply(GetStudyIdFromNameReply { study_id: id as i64 })
    }

    async fn get_study_name_from_id(
        &self,
        r: Request<GetStudyNameFromIdRequest>,
    ) -> Result<Response<GetStudyNameFromIdReply>, Status> {
        let r = r.into_inner();
        let name = self.run(move |s| s.get_study_name_from_id(study_id(r.study_id)?)).await?;
        reply(GetStudyNameFromIdReply { study_name: name })
    }

    async fn get_study_directions(
        &self,
        r: Request<GetStudyDirectionsRequest>,
    ) -> Result<Response<GetStudyDirectionsReply>, Status> {
        let r = r.into_inner();
        let d = self.run(move |s| s.get_study_directions(study_id(r.study_id)?)).await?;
        reply(GetStudyDirectionsReply {
            directions: d.into_iter().map(direction_to_proto).collect(),
        })
    }

    async fn get_study_user_attributes(
        &self,
        r: Request<GetStudyUserAttributesRequest>,
    ) -> Result<Response<GetStudyUserAttributesReply>, Status> {
        let r = r.into_inner();
        let a = self.run(move |s| s.get_study_user_attrs(study_id(r.study_id)?)).await?;
        reply(GetStudyUserAttributesReply {
            user_attributes: a.iter().map(|(k, v)| (k.clone(), attr_to_wire(v))).collect(),
        })
    }

    async fn get_study_system_attributes(
        &self,
        r: Request<GetStudySystemAttributesRequest>,
    ) -> Result<Response<GetStudySystemAttributesReply>, Status> {
        let r = r.into_inner();
        let a = self.run(move |s| s.get_study_system_attrs(study_id(r.study_id)?)).await?;
        reply(GetStudySystemAttributesReply {
            system_attributes: a.iter().map(|(k, v)| (k.clone(), attr_to_wire(v))).collect(),
        })
    }

    async fn get_all_studies(
        &self,
        _r: Request<GetAllStudiesRequest>,
    ) -> Result<Response<GetAllStudiesReply>, Status> {
        let studies = self.run(|s| s.get_all_studies()).await?;
        reply(GetAllStudiesReply { studies: studies.iter().map(study_to_proto).collect() })
    }

    async fn create_new_trial(
        &self,
        r: Request<CreateNewTrialRequest>,
    ) -> Result<Response<CreateNewTrialReply>, Status> {
        let r = r.into_inner();
        let id = self
            .run(move |s| {
                let study = study_id(r.study_id)?;
                let template = match (r.template_trial_is_none, &r.template_trial) {
                    (false, Some(t)) => Some(trial_from_proto(study, t)?),
                    (false, None) => Some(trial_from_proto(study, &Trial::default())?),
                    (true, _) => None,
                };
                s.create_new_trial(study, template.as_ref())
            })
            .await?;
        reply(CreateNewTrialReply { trial_id: id as i64 })
    }

    async fn set_trial_parameter(
        &self,
        r: Request<SetTrialParameterRequest>,
    ) -> Result<Response<SetTrialParameterReply>, Status> {
        let r = r.into_inner();
        self.run(move |s| {
            let dist = distribution_from_json(&r.distribution).map_err(|e| {
                Error::invalid(format_args!("distribution of {:?}: {e}", r.param_name))
            })?;
            s.set_trial_param(trial_id(r.trial_id)?, &r.param_name, r.param_value_internal, &dist)
        })
        .await?;
        reply(SetTrialParameterReply {})
    }

    async fn get_trial_id_from_study_id_trial_number(
        &self,
        r: Request<GetTrialIdFromStudyIdTrialNumberRequest>,
    ) -> Result<Response<GetTrialIdFromStudyIdTrialNumberReply>, Status> {
        let r = r.into_inner();
        let id = self
            .run(move |s| {
                let study = study_id(r.study_id)?;
                let number = u64::try_from(r.trial_number).map_err(|_| {
                    Error::TrialNumberNotFound { study_id: study, number: r.trial_number as u64 }
                })?;
                s.get_trial_id_from_study_id_trial_number(study, number)
            })
            .await?;
        reply(GetTrialIdFromStudyIdTrialNumberReply { trial_id: id as i64 })
    }

    async fn set_trial_state_values(
        &self,
        r: Request<SetTrialStateValuesRequest>,
    ) -> Result<Response<SetTrialStateValuesReply>, Status> {
        let r = r.into_inner();
        let updated = self
            .run(move |s| {
                let state = state_from_proto(r.state)?;
                let values = (!r.values.is_empty()).then_some(&r.values[..]);
                s.set_trial_state_values(trial_id(r.trial_id)?, state, values)
            })
            .await?;
        reply(SetTrialStateValuesReply { trial_updated: updated })
    }

    async fn set_trial_intermediate_value(
        &self,
        r: Request<SetTrialIntermediateValueRequest>,
    ) -> Result<Response<SetTrialIntermediateValueReply>, Status> {
        let r = r.into_inner();
        self.run(move |s| {
            s.set_trial_intermediate_value(trial_id(r.trial_id)?, r.step, r.intermediate_value)
        })
        .await?;
        reply(SetTrialIntermediateValueReply {})
    }

    async fn set_trial_user_attribute(
        &self,
        r: Request<SetTrialUserAttributeRequest>,
    ) -> Result<Response<SetTrialUserAttributeReply>, Status> {
        let r = r.into_inner();
        self.run(move |s| {
            let value = attr_from_wire(&r.key, &r.value)?;
            s.set_trial_user_attr(trial_id(r.trial_id)?, &r.key, value)
        })
        .await?;
        reply(SetTrialUserAttributeReply {})
    }

    async fn set_trial_system_attribute(
        &self,
        r: Request<SetTrialSystemAttributeRequest>,
    ) -> Result<Response<SetTrialSystemAttributeReply>, Status> {
        let r = r.into_inner();
        self.run(move |s| {
            let value = attr_from_wire(&r.key, &r.value)?;
            s.set_trial_system_attr(trial_id(r.trial_id)?, &r.key, value)
        })
        .await?;
        reply(SetTrialSystemAttributeReply {})
    }

    async fn get_trial(
        &self,
        r: Request<GetTrialRequest>,
    ) -> Result<Response<GetTrialReply>, Status> {
        let r = r.into_inner();
        // The one read Optuna's workers make in a loop: answered on this task when the storage
        // can do it at once (no hop to the blocking pool, whose thread wake-ups cost more than
        // the read), on the blocking pool otherwise.
        let id = trial_id(r.trial_id).map_err(|e| status_of(&e))?;
        let t = match self.storage.try_get_trial_now(id) {
            Some(t) => t.map_err(|e| status_of(&e))?,
            None => self.run(move |s| s.get_trial(id)).await?,
        };
        let wire = self.wire.to_proto(&t).map_err(|e| status_of(&e))?;
        reply(GetTrialReply { trial: Some(wire) })
    }

    async fn get_trials(
        &self,
        r: Request<GetTrialsRequest>,
    ) -> Result<Response<GetTrialsReply>, Status> {
        let r = r.into_inner();
        let wire = Arc::clone(&self.wire);
        let trials = self
            .run(move |s| {
                let all = s.get_all_trials(study_id(r.study_id)?, None)?;
                let included: std::collections::HashSet<i64> =
                    r.included_trial_ids.iter().copied().collect();
                all.iter()
                    .filter(|t| {
                        let id = t.trial_id as i64;
                        id > r.trial_id_greater_than || included.contains(&id)
                    })
                    .map(|t| wire.to_proto(t))
                    .collect::<crate::Result<Vec<_>>>()
            })
            .await?;
        reply(GetTrialsReply { trials })
    }
}

/// Rewrites tonic's `OUT_OF_RANGE` for a request over [`MAX_MESSAGE_BYTES`] (the only
/// `OUT_OF_RANGE` this server gives: its handlers never do) into `RESOURCE_EXHAUSTED`, the status
/// gRPC's own servers (Optuna's) give for it.
pub fn oversized_is_resource_exhausted<B>(mut response: http::Response<B>) -> http::Response<B> {
    let out_of_range = http::HeaderValue::from(Code::OutOfRange as i32);
    if response.headers().get("grpc-status") == Some(&out_of_range) {
        response
            .headers_mut()
            .insert("grpc-status", http::HeaderValue::from(Code::ResourceExhausted as i32));
    }
    response
}

/// The server's tower layer (see [`oversized_is_resource_exhausted`]).
pub fn layer<B>() -> tower::util::MapResponseLayer<fn(http::Response<B>) -> http::Response<B>> {
    tower::util::MapResponseLayer::new(oversized_is_resource_exhausted::<B> as fn(_) -> _)
}

/// Serves `storage` on `addr` until `shutdown` resolves, then finishes the calls in flight and
/// returns. Binding errors (address in use, ...) are returned.
pub async fn serve(
    storage: Arc<dyn Storage>,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .layer(layer())
        .add_service(Service::new(storage).into_server())
        .serve_with_shutdown(addr, shutdown)
        .await
}

/// Waits for Ctrl-C, or (Unix) SIGTERM: the one place the server listens for signals (the
/// platform difference lives in `sys::shutdown`).
pub async fn shutdown_signal() {
    crate::sys::shutdown::requested().await
}
