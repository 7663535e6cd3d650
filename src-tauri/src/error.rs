//! The one error the page sees: `{kind, message}`, from core's error.

use haid_models::ErrorKind;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
}

impl From<haid_models::Error> for AppError {
    fn from(e: haid_models::Error) -> Self {
        Self {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl AppError {
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Internal,
            message: message.into(),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
