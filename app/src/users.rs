//! The `users` table.

use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Result};

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    /// Django's `pbkdf2_sha256$...` format.
    pub password: String,
    is_active: i64,
    is_admin: i64,
}

impl User {
    pub fn is_active(&self) -> bool {
        self.is_active != 0
    }

    pub fn is_admin(&self) -> bool {
        self.is_admin != 0
    }

    pub fn token_user(&self) -> shared::jwt::TokenUser {
        shared::jwt::TokenUser {
            id: self.id,
            username: self.username.clone(),
            is_admin: self.is_admin(),
        }
    }

    /// The legacy `/api/accounts/user/` shape.
    pub fn public(&self) -> serde_json::Value {
        serde_json::json!({"id": self.id, "username": self.username, "email": self.email})
    }
}

const COLUMNS: &str = "id, username, email, password, is_active, is_admin";

pub async fn by_username(env: &Env, username: &str) -> Result<Option<User>> {
    crate::bindings::db(env)?
        .prepare(format!("SELECT {COLUMNS} FROM users WHERE username = ?1"))
        .bind(&[username.into()])?
        .first(None)
        .await
}

pub async fn by_id(env: &Env, id: i64) -> Result<Option<User>> {
    crate::bindings::db(env)?
        .prepare(format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))
        .bind(&[JsValue::from(id as f64)])?
        .first(None)
        .await
}

pub async fn exists(env: &Env, username: &str) -> Result<bool> {
    Ok(by_username(env, username).await?.is_some())
}

/// Why a new user was not stored.
pub enum CreateError {
    /// Another request took the username between the check and the insert.
    UsernameTaken,
    Db(worker::Error),
}

/// Inserts a user with the next free id at or above `offset`. The id is computed inside the
/// INSERT, so concurrent registrations cannot pick the same one (SQLite writes one at a
/// time), and ids copied from the legacy side (below the offset) never move it.
pub async fn create(
    env: &Env,
    offset: i64,
    username: &str,
    email: &str,
    password_hash: &str,
) -> std::result::Result<User, CreateError> {
    let stmt = crate::bindings::db(env)
        .and_then(|db| {
            db.prepare(format!(
                "INSERT INTO users (id, username, email, password) \
                 SELECT COALESCE((SELECT MAX(id) + 1 FROM users WHERE id >= ?1), ?1), ?2, ?3, ?4 \
                 RETURNING {COLUMNS}"
            ))
            .bind(&[
                JsValue::from(offset as f64),
                username.into(),
                email.into(),
                password_hash.into(),
            ])
        })
        .map_err(CreateError::Db)?;
    match stmt.first::<User>(None).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(CreateError::Db(worker::Error::RustError(
            "INSERT returned no row".into(),
        ))),
        Err(e)
            if e.to_string()
                .contains("UNIQUE constraint failed: users.username") =>
        {
            Err(CreateError::UsernameTaken)
        }
        Err(e) => Err(CreateError::Db(e)),
    }
}

pub async fn touch_last_login(env: &Env, id: i64) -> Result<()> {
    crate::bindings::db(env)?
        .prepare(
            "UPDATE users SET last_login = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
        )
        .bind(&[JsValue::from(id as f64)])?
        .run()
        .await?;
    Ok(())
}
