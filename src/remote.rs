//! [`GrpcStorage`]: the storage API over Optuna's gRPC protocol, a client of `trialog serve` (or
//! of Optuna's own `run_grpc_proxy_server`), feature `grpc`.
//!
//! A Rust worker on another machine uses it as Python's `GrpcStorageProxy` is used: every call is
//! one request to the server, which makes each write durable before it replies. Heartbeats are
//! not in Optuna's protocol, so this store has none ([`Storage::heartbeat`] is `None`).

// tonic's calls return `Result<_, Status>`; its size is tonic's choice.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::error::{Error, Result};
use crate::grpc::proto::storage_service_client::StorageServiceClient;
use crate::grpc::proto::*;
use crate::grpc::{
    attr_from_wire, attr_to_wire, direction_from_proto, direction_to_proto, state_to_proto,
    study_from_proto, trial_from_proto, trial_to_proto,
};
use crate::journal::optuna_codec::distribution_to_json;
use crate::model::{AttrValue, Distribution, FrozenStudy, FrozenTrial, StudyDirection, TrialState};
use crate::storage::Storage;

/// A storage whose calls go to a gRPC storage server. `Send + Sync`; calls block the calling
/// thread (do not call them from inside an async runtime: use `spawn_blocking`).
#[derive(Debug)]
pub struct GrpcStorage {
    endpoint: String,
    runtime: tokio::runtime::Runtime,
    client: StorageServiceClient<Channel>,
    /// The study of each trial seen so far (the protocol's trials do not say).
    study_of: Mutex<HashMap<u64, u64>>,
}

impl GrpcStorage {
    /// Connects to the server at `endpoint` (`http://host:port`; `grpc://host:port` is read as
    /// `http://`). Fails with [`Error::Remote`] if it cannot be reached.
    pub fn connect(endpoint: &str) -> Result<Self> {
        let url = match endpoint.strip_prefix("grpc://") {
            Some(rest) => format!("http://{rest}"),
            None => endpoint.to_owned(),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| Error::Remote { endpoint: url.clone(), message: e.to_string() })?;
        let remote = |e: &dyn std::fmt::Display| Error::Remote {
            endpoint: url.clone(),
            message: e.to_string(),
        };
        let channel = runtime.block_on(async {
            Channel::from_shared(url.clone())
                .map_err(|e| remote(&e))?
                .tcp_nodelay(true)
                .connect()
                .await
                .map_err(|e| {
                    use std::error::Error as _;
                    let why = e.source().map_or(e.to_string(), |s| format!("{e}: {s}"));
                    remote(&why)
                })
        })?;
        let client = StorageServiceClient::new(channel).max_decoding_message_size(usize::MAX);
        Ok(GrpcStorage { endpoint: url, runtime, client, study_of: Mutex::new(HashMap::new()) })
    }

    /// The server's address.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn call<T, F>(
        &self,
        f: impl FnOnce(StorageServiceClient<Channel>) -> F,
    ) -> std::result::Result<T, Status>
    where
        F: std::future::Future<Output = std::result::Result<tonic::Response<T>, Status>>,
    {
        self.runtime.block_on(f(self.client.clone())).map(tonic::Response::into_inner)
    }

    /// A status the protocol gives no typed meaning to.
    fn remote(&self, s: &Status) -> Error {
        Error::Remote {
            endpoint: self.endpoint.clone(),
            message: format!("{:?}: {}", s.code(), s.message()),
        }
    }

    /// The typed error for `s` from a call about study `study_id`.
    fn study_error(&self, s: Status, study_id: u64) -> Error {
        match s.code() {
            Code::NotFound => Error::StudyNotFound { study_id },
            _ => self.common_error(s),
        }
    }

    /// The typed error for `s` from a call about trial `trial_id`.
    fn trial_error(&self, s: Status, trial_id: u64) -> Error {
        match s.code() {
            Code::NotFound => Error::TrialNotFound { trial_id },
            Code::FailedPrecondition => match self.get_trial(trial_id) {
                Ok(t) => Error::TrialFinished { trial_id, number: t.number, state: t.state },
                Err(e) => e,
            },
            _ => self.common_error(s),
        }
    }

    fn common_error(&self, s: Status) -> Error {
        match s.code() {
            Code::InvalidArgument => Error::InvalidArgument(s.message().to_owned()),
            _ => self.remote(&s),
        }
    }

    fn remember(&self, trial_id: u64, study_id: u64) {
        self.study_of.lock().unwrap_or_else(PoisonError::into_inner).insert(trial_id, study_id);
    }

    /// The study of trial `trial_id`: remembered, or found by asking each study for it.
    fn study_of(&self, trial_id: u64) -> Result<u64> {
        if let Some(s) = self.study_of.lock().unwrap_or_else(PoisonError::into_inner).get(&trial_id)
        {
            return Ok(*s);
        }
        for study in self.get_all_studies()? {
            let r = self.call(|mut c| async move {
                c.get_trials(GetTrialsRequest {
                    study_id: study.study_id as i64,
                    included_trial_ids: vec![trial_id as i64],
                    trial_id_greater_than: i64::MAX,
                })
                .await
            });
            if r.is_ok_and(|r| !r.trials.is_empty()) {
                self.remember(trial_id, study.study_id);
                return Ok(study.study_id);
            }
        }
        Err(Error::TrialNotFound { trial_id })
    }

    fn trials(&self, study_id: u64) -> Result<Vec<Arc<FrozenTrial>>> {
        let r = self
            .call(|mut c| async move {
                c.get_trials(GetTrialsRequest {
                    study_id: study_id as i64,
                    included_trial_ids: Vec::new(),
                    trial_id_greater_than: -1,
                })
                .await
            })
            .map_err(|s| self.study_error(s, study_id))?;
        let mut trials = r
            .trials
            .iter()
            .map(|t| trial_from_proto(study_id, t).map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
        trials.sort_by_key(|t| t.number);
        let mut known = self.study_of.lock().unwrap_or_else(PoisonError::into_inner);
        for t in &trials {
            known.insert(t.trial_id, study_id);
        }
        Ok(trials)
    }
}

impl Storage for GrpcStorage {
    fn create_new_study(
        &self,
        directions: &[StudyDirection],
        study_name: Option<&str>,
    ) -> Result<u64> {
        let name = crate::storage::new_study_name(directions, study_name)?;
        let request = CreateNewStudyRequest {
            directions: directions.iter().map(|d| direction_to_proto(*d)).collect(),
            study_name: name.clone(),
        };
        match self.call(|mut c| async move { c.create_new_study(request).await }) {
            Ok(r) => Ok(r.study_id as u64),
            Err(s) if s.code() == Code::AlreadyExists => Err(Error::DuplicateStudyName { name }),
            Err(s) => Err(self.common_error(s)),
        }
    }

    fn delete_study(&self, study_id: u64) -> Result<()> {
        self.call(|mut c| async move {
            c.delete_study(DeleteStudyRequest { study_id: study_id as i64 }).await
        })
        .map(drop)
        .map_err(|s| self.study_error(s, study_id))
    }

    fn set_study_user_attr(&self, study_id: u64, key: &str, value: AttrValue) -> Result<()> {
        let request = SetStudyUserAttributeRequest {
            study_id: study_id as i64,
            key: key.to_owned(),
            value: attr_to_wire(&value),
        };
        self.call(|mut c| async move { c.set_study_user_attribute(request).await })
            .map(drop)
            .map_err(|s| self.study_error(s, study_id))
    }

    fn set_study_system_attr(&self, study_id: u64, key: &str, value: AttrValue) -> Result<()> {
        let request = SetStudySystemAttributeRequest {
            study_id: study_id as i64,
            key: key.to_owned(),
            value: attr_to_wire(&value),
        };
        self.call(|mut c| async move { c.set_study_system_attribute(request).await })
            .map(drop)
            .map_err(|s| self.study_error(s, study_id))
    }

    fn get_study_id_from_name(&self, study_name: &str) -> Result<u64> {
        let request = GetStudyIdFromNameRequest { study_name: study_name.to_owned() };
        match self.call(|mut c| async move { c.get_study_id_from_name(request).await }) {
            Ok(r) => Ok(r.study_id as u64),
            Err(s) if s.code() == Code::NotFound => {
                Err(Error::StudyNameNotFound { name: study_name.to_owned() })
            }
            Err(s) => Err(self.common_error(s)),
        }
    }

    fn get_study_name_from_id(&self, study_id: u64) -> Result<String> {
        let request = GetStudyNameFromIdRequest { study_id: study_id as i64 };
        self.call(|mut c| async move { c.get_study_name_from_id(request).await })
            .map(|r| r.study_name)
            .map_err(|s| self.study_error(s, study_id))
    }

    fn get_study_directions(&self, study_id: u64) -> Result<Vec<StudyDirection>> {
        let request = GetStudyDirectionsRequest { study_id: study_id as i64 };
        self.call(|mut c| async move { c.get_study_directions(request).await })
            .map(|r| r.directions.iter().map(|d| direction_from_proto(*d)).collect())
            .map_err(|s| self.study_error(s, study_id))
    }

    fn get_study_user_attrs(&self, study_id: u64) -> Result<BTreeMap<String, AttrValue>> {
        let request = GetStudyUserAttributesRequest { study_id: study_id as i64 };
        let r = self
            .call(|mut c| async move { c.get_study_user_attributes(request).await })
            .map_err(|s| self.study_error(s, study_id))?;
        r.user_attributes.iter().map(|(k, v)| Ok((k.clone(), attr_from_wire(k, v)?))).collect()
    }

    fn get_study_system_attrs(&self, study_id: u64) -> Result<BTreeMap<String, AttrValue>> {
        let request = GetStudySystemAttributesRequest { study_id: study_id as i64 };
        let r = self
            .call(|mut c| async move { c.get_study_system_attributes(request).await })
            .map_err(|s| self.study_error(s, study_id))?;
        r.system_attributes.iter().map(|(k, v)| Ok((k.clone(), attr_from_wire(k, v)?))).collect()
    }

    fn get_all_studies(&self) -> Result<Vec<FrozenStudy>> {
        let r = self
            .call(|mut c| async move { c.get_all_studies(GetAllStudiesRequest {}).await })
            .map_err(|s| self.common_error(s))?;
        let mut studies = r.studies.iter().map(study_from_proto).collect::<Result<Vec<_>>>()?;
        studies.sort_by_key(|s| s.study_id);
        Ok(studies)
    }

    fn create_new_trial(&self, study_id: u64, template: Option<&FrozenTrial>) -> Result<u64> {
        let request = CreateNewTrialRequest {
            study_id: study_id as i64,
            template_trial: template.map(trial_to_proto).transpose()?,
            template_trial_is_none: template.is_none(),
        };
        let id = self
            .call(|mut c| async move { c.create_new_trial(request).await })
            .map_err(|s| self.study_error(s, study_id))?
            .trial_id as u64;
        self.remember(id, study_id);
        Ok(id)
    }

    fn set_trial_param(
        &self,
        trial_id: u64,
        param_name: &str,
        param_value_internal: f64,
        distribution: &Distribution,
    ) -> Result<()> {
        let request = SetTrialParameterRequest {
            trial_id: trial_id as i64,
            param_name: param_name.to_owned(),
            param_value_internal,
            distribution: distribution_to_json(distribution),
        };
        self.call(|mut c| async move { c.set_trial_parameter(request).await })
            .map(drop)
            .map_err(|s| self.trial_error(s, trial_id))
    }

    fn set_trial_state_values(
        &self,
        trial_id: u64,
        state: TrialState,
        values: Option<&[f64]>,
    ) -> Result<bool> {
        let request = SetTrialStateValuesRequest {
            trial_id: trial_id as i64,
            state: state_to_proto(state),
            values: values.map(<[f64]>::to_vec).unwrap_or_default(),
        };
        self.call(|mut c| async move { c.set_trial_state_values(request).await })
            .map(|r| r.trial_updated)
            .map_err(|s| self.trial_error(s, trial_id))
    }

    fn set_trial_intermediate_value(&self, trial_id: u64, step: i64, value: f64) -> Result<()> {
        let request = SetTrialIntermediateValueRequest {
            trial_id: trial_id as i64,
            step,
            intermediate_value: value,
        };
        self.call(|mut c| async move { c.set_trial_intermediate_value(request).await })
            .map(drop)
            .map_err(|s| self.trial_error(s, trial_id))
    }

    fn set_trial_user_attr(&self, trial_id: u64, key: &str, value: AttrValue) -> Result<()> {
        let request = SetTrialUserAttributeRequest {
            trial_id: trial_id as i64,
            key: key.to_owned(),
            value: attr_to_wire(&value),
        };
        self.call(|mut c| async move { c.set_trial_user_attribute(request).await })
            .map(drop)
            .map_err(|s| self.trial_error(s, trial_id))
    }

    fn set_trial_system_attr(&self, trial_id: u64, key: &str, value: AttrValue) -> Result<()> {
        let request = SetTrialSystemAttributeRequest {
            trial_id: trial_id as i64,
            key: key.to_owned(),
            value: attr_to_wire(&value),
        };
        self.call(|mut c| async move { c.set_trial_system_attribute(request).await })
            .map(drop)
            .map_err(|s| self.trial_error(s, trial_id))
    }

    fn get_trial(&self, trial_id: u64) -> Result<Arc<FrozenTrial>> {
        let request = GetTrialRequest { trial_id: trial_id as i64 };
        let r =
            self.call(|mut c| async move { c.get_trial(request).await }).map_err(|s| {
                match s.code() {
                    Code::NotFound => Error::TrialNotFound { trial_id },
                    _ => self.common_error(s),
                }
            })?;
        let t = r.trial.unwrap_or_default();
        let study_id = self.study_of(trial_id)?;
        Ok(Arc::new(trial_from_proto(study_id, &t)?))
    }

    fn get_all_trials(
        &self,
        study_id: u64,
        states: Option<&[TrialState]>,
    ) -> Result<Vec<Arc<FrozenTrial>>> {
        let mut trials = self.trials(study_id)?;
        if let Some(states) = states {
            trials.retain(|t| states.contains(&t.state));
        }
        Ok(trials)
    }

    fn get_trial_id_from_study_id_trial_number(
        &self,
        study_id: u64,
        trial_number: u64,
    ) -> Result<u64> {
        let request = GetTrialIdFromStudyIdTrialNumberRequest {
            study_id: study_id as i64,
            trial_number: trial_number as i64,
        };
        match self
            .call(|mut c| async move { c.get_trial_id_from_study_id_trial_number(request).await })
        {
            Ok(r) => {
                self.remember(r.trial_id as u64, study_id);
                Ok(r.trial_id as u64)
            }
            Err(s) if s.code() == Code::NotFound => {
                Err(Error::TrialNumberNotFound { study_id, number: trial_number })
            }
            Err(s) => Err(self.common_error(s)),
        }
    }
}
