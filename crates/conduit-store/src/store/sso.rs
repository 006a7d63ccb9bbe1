//! Single sign-on's store calls (issue 12 skeleton: H1 replaces these stubs with real ones in
//! their own files).
#![allow(unused_variables, clippy::todo)]

use super::Store;
use crate::*;

impl Store {
    pub async fn user_by_identity(
        &self,
        issuer: &str,
        external_subject: &str,
    ) -> Result<Option<User>, StoreError> {
        todo!()
    }
    pub async fn provision_oidc_user(
        &self,
        new: &NewOidcUser,
        actor: &Actor,
    ) -> Result<User, StoreError> {
        todo!()
    }
    pub async fn set_user_email(&self, id: &str, email: Option<&str>) -> Result<(), StoreError> {
        todo!()
    }
    pub async fn create_flow(&self, new: &NewFlow) -> Result<(), StoreError> {
        todo!()
    }
    pub async fn take_flow(
        &self,
        state_digest: &str,
        now: i64,
    ) -> Result<Option<Flow>, StoreError> {
        todo!()
    }
    pub async fn create_device_code(
        &self,
        device_digest: &str,
        user_code_digest: &str,
        expires_at: i64,
        interval: i64,
    ) -> Result<DeviceCode, StoreError> {
        todo!()
    }
    pub async fn device_by_user_code(
        &self,
        user_code_digest: &str,
    ) -> Result<Option<DeviceCode>, StoreError> {
        todo!()
    }
    pub async fn decide_device_code(
        &self,
        id: &str,
        approve_user_id: Option<&str>,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        todo!()
    }
    pub async fn poll_device_code(
        &self,
        device_digest: &str,
        refresh_digest: &str,
        refresh_family_ends_at: i64,
        now: i64,
    ) -> Result<DevicePoll, StoreError> {
        todo!()
    }
    pub async fn rotate_refresh(
        &self,
        old_digest: &str,
        new_digest: &str,
        now: i64,
    ) -> Result<RefreshOutcome, StoreError> {
        todo!()
    }
    pub async fn revoke_refresh(&self, digest: &str, actor: &Actor) -> Result<bool, StoreError> {
        todo!()
    }
    pub async fn revoke_family(&self, family_id: &str, actor: &Actor) -> Result<bool, StoreError> {
        todo!()
    }
    pub async fn family_alive(&self, family_id: &str, now: i64) -> Result<bool, StoreError> {
        todo!()
    }
    pub async fn create_cli_session(
        &self,
        challenge: &str,
        binding_digest: &str,
        expires_at: i64,
    ) -> Result<CliSession, StoreError> {
        todo!()
    }
    pub async fn cli_session(&self, id: &str) -> Result<Option<CliSession>, StoreError> {
        todo!()
    }
    pub async fn verify_cli_session(
        &self,
        id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        todo!()
    }
    pub async fn complete_cli_session(
        &self,
        id: &str,
        binding_digest: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        todo!()
    }
    pub async fn take_cli_session(&self, challenge: &str, now: i64) -> Result<CliPoll, StoreError> {
        todo!()
    }
    pub async fn signing_keys(&self, now: i64) -> Result<Vec<SigningKey>, StoreError> {
        todo!()
    }
    pub async fn insert_signing_key(&self, key: &SigningKey) -> Result<(), StoreError> {
        todo!()
    }
    pub async fn managed_settings(&self) -> Result<Option<ManagedSettings>, StoreError> {
        todo!()
    }
    pub async fn set_managed_settings(
        &self,
        settings: Option<&serde_json::Value>,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        todo!()
    }
    pub async fn prune_expired(&self, now: i64) -> Result<u64, StoreError> {
        todo!()
    }
}
