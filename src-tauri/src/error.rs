//! The one error the page sees: `{kind, message}`, from core's error.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: String,
    pub message: String,
}

impl From<haid_models::Error> for AppError {
    fn from(e: haid_models::Error) -> Self {
        Self {
            kind: e.kind().to_owned(),
            message: e.to_string(),
        }
    }
}

impl AppError {
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: "internal".into(),
            message: message.into(),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
