//! Tenant administration: users with attributes and roles, and their API keys (hashed at rest,
//! scoped at most to the user's role, revocable). Every change is audited.

use crate::auth::Member;
use crate::auth::hash_secret;
use crate::checks::{check_attrs, check_id, check_text, need, not_found};
use crate::crypto::random_hex;
use crate::policy::Attrs;
use crate::store::{ApiKeyRow, Role, User};
use crate::{Kb, KbError, audit};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(example = "priya")]
    pub id: String,
    pub name: String,
    pub role: Role,
    /// Attributes the policy reads: `{"groups": ["billing"], "clearance": ["internal"]}`.
    #[serde(default)]
    pub attributes: Attrs,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub user: String,
    /// What the key may do, at most the user's role (default: the user's role).
    #[serde(default)]
    pub scope: Option<Role>,
}

/// A new API key. The secret is shown once and stored only as a hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuedKey {
    pub id: String,
    pub key: String,
    pub scope: Role,
}

impl Kb {
    pub async fn create_user(&self, m: &Member, req: NewUser) -> Result<User, KbError> {
        need(m, Role::Admin)?;
        check_id(&req.id, "/id")?;
        check_text(&req.name, "/name", 200)?;
        check_attrs(&req.attributes, "/attributes")?;
        let user = User {
            tenant: m.tenant().to_owned(),
            id: req.id,
            name: req.name,
            role: req.role,
            attributes: req.attributes,
        };
        self.inner.store.create_user(&user, audit::now_ms()).await?;
        self.record(m.tenant(), &m.user.id, "user.create", vec![], json!({"user": user.id, "role": user.role})).await?;
        Ok(user)
    }

    pub async fn user(&self, m: &Member, id: &str) -> Result<User, KbError> {
        need(m, Role::Admin)?;
        self.inner.store.user(m.tenant(), id).await?.ok_or_else(|| not_found("user", id))
    }

    /// Erases a user: their record (name, attributes) and keys. Their documents stay with the
    /// tenant; the audit chain keeps the user id, which no longer resolves to a person.
    pub async fn delete_user(&self, m: &Member, id: &str) -> Result<(), KbError> {
        need(m, Role::Admin)?;
        if id == m.user.id {
            // Also what keeps a tenant from locking itself out by erasing its last admin.
            return Err(KbError::Conflict("you cannot erase the user you are signed in as; another admin can".into()));
        }
        if !self.inner.store.delete_user(m.tenant(), id).await? {
            return Err(not_found("user", id));
        }
        self.record(m.tenant(), &m.user.id, "user.erase", vec![], json!({"user": id})).await
    }

    pub async fn issue_key(&self, m: &Member, req: NewKey) -> Result<IssuedKey, KbError> {
        need(m, Role::Admin)?;
        let user = self.inner.store.user(m.tenant(), &req.user).await?.ok_or_else(|| not_found("user", &req.user))?;
        let scope = req.scope.unwrap_or(user.role);
        if scope > user.role {
            return Err(KbError::invalid(
                "scope_above_role",
                format!("user {:?} is a {}", user.id, user.role.as_str()),
                "/scope",
            ));
        }
        let (id, secret) = (random_hex(8), random_hex(32));
        let row = ApiKeyRow {
            id: id.clone(),
            tenant: m.tenant().to_owned(),
            user_id: user.id.clone(),
            scope,
            hash: hash_secret(&secret),
            revoked: false,
        };
        self.inner.store.put_key(&row, audit::now_ms()).await?;
        self.record(m.tenant(), &m.user.id, "key.issue", vec![], json!({"key": id, "user": user.id, "scope": scope}))
            .await?;
        Ok(IssuedKey { key: format!("kb_{id}_{secret}"), id, scope })
    }

    pub async fn revoke_key(&self, m: &Member, id: &str) -> Result<(), KbError> {
        need(m, Role::Admin)?;
        if !self.inner.store.revoke_key(m.tenant(), id, audit::now_ms()).await? {
            return Err(not_found("key", id));
        }
        self.record(m.tenant(), &m.user.id, "key.revoke", vec![], json!({"key": id})).await
    }
}
