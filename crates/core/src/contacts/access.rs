//! Who may do what (SPEC §5): bearer tokens stored as SHA-256 hashes, roles admin and agent.

use sha2::{Digest, Sha256};

use crate::kernel::error::{Error, Result};
use crate::kernel::store::{write_tx, Sql, Value};
use crate::kernel::values::{fill_random, time, Login};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Agent,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub login: String,
    pub role: Role,
}

impl Principal {
    /// Admins may do everything; agents read, search, filter, create and edit.
    pub fn require_admin(&self) -> Result<()> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Agent => Err(Error::Forbidden("this needs the admin role".into())),
        }
    }
}

/// The login of the bootstrap admin, whose token is the `admin_token` variable.
pub const BOOTSTRAP_ADMIN: &str = "admin";

pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The bootstrap admin, when `token` is the `admin_token` variable. Needs no database.
pub fn bootstrap_admin(admin_token: Option<&str>, token: &str) -> Option<Principal> {
    let admin = admin_token.filter(|t| !t.is_empty())?;
    constant_time_eq(hash_token(admin).as_bytes(), hash_token(token).as_bytes()).then(|| {
        Principal {
            login: BOOTSTRAP_ADMIN.into(),
            role: Role::Admin,
        }
    })
}

/// Who holds this stored token.
pub fn lookup_token(db: &dyn Sql, token: &str) -> Result<Principal> {
    if token.is_empty() {
        return Err(Error::Unauthenticated);
    }
    let rows = db.execute(
        "SELECT u.login, u.role FROM tokens t JOIN users u ON u.login = t.login WHERE t.hash = ?",
        &[hash_token(token).into()],
    )?;
    let row = rows.rows.first().ok_or(Error::Unauthenticated)?;
    let login = row
        .first()
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let role = row
        .get(1)
        .and_then(Value::as_str)
        .and_then(Role::parse)
        .ok_or(Error::Unauthenticated)?;
    Ok(Principal { login, role })
}

/// Issues a new token for `login` with `role` (creating or updating the user). The token is
/// returned once and only its hash is kept.
pub fn issue_token(db: &dyn Sql, login: &str, role: &str) -> Result<String> {
    let login = Login::parse(login).map_err(|why| Error::invalid("login", why))?;
    let role = Role::parse(role).ok_or_else(|| Error::invalid("role", "must be admin or agent"))?;
    let mut secret = [0u8; 32];
    fill_random(&mut secret);
    let token = format!("ct_{}", hex(&secret));
    write_tx(db, || {
        let now = time::now();
        db.execute(
            "INSERT INTO users (login, role, created_at) VALUES (?, ?, ?) \
             ON CONFLICT(login) DO UPDATE SET role = excluded.role",
            &[
                login.as_str().into(),
                role.as_str().into(),
                now.as_str().into(),
            ],
        )?;
        db.execute(
            "INSERT INTO tokens (hash, login, created_at) VALUES (?, ?, ?)",
            &[hash_token(&token).into(), login.as_str().into(), now.into()],
        )?;
        Ok::<_, Error>(())
    })?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::native::NativeSql;
    use crate::kernel::schema;

    fn db() -> NativeSql {
        let db = NativeSql::open_in_memory();
        schema::ensure(&db).unwrap();
        db
    }

    #[test]
    fn bootstrap_admin_is_the_admin_token() {
        let p = bootstrap_admin(Some("s3cret"), "s3cret").unwrap();
        assert_eq!(
            p,
            Principal {
                login: "admin".into(),
                role: Role::Admin
            }
        );
        assert!(bootstrap_admin(Some("s3cret"), "s3cre").is_none());
        assert!(bootstrap_admin(Some(""), "").is_none());
        assert!(bootstrap_admin(None, "x").is_none());
    }

    #[test]
    fn issued_tokens_authenticate_and_are_stored_hashed() {
        let conn = db();
        let token = issue_token(&conn, "maria", "agent").unwrap();
        let stored = conn.execute("SELECT hash FROM tokens", &[]).unwrap();
        assert_ne!(
            stored.scalar().and_then(Value::as_str),
            Some(token.as_str())
        );
        let p = lookup_token(&conn, &token).unwrap();
        assert_eq!(
            p,
            Principal {
                login: "maria".into(),
                role: Role::Agent
            }
        );
    }

    #[test]
    fn unknown_or_empty_tokens_are_refused() {
        assert_eq!(lookup_token(&db(), "nope"), Err(Error::Unauthenticated));
        assert_eq!(lookup_token(&db(), ""), Err(Error::Unauthenticated));
    }

    #[test]
    fn roles_are_checked() {
        assert!(issue_token(&db(), "x", "root").is_err());
        assert!(issue_token(&db(), "bad login", "agent").is_err());
    }
}
