//! The one error the page sees: core's `{kind, message}` ([`ErrorReport`],
//! `ErrorReport` in `ui/src/lib/generated/`).

pub use haid_models::ErrorReport as AppError;

pub type AppResult<T> = Result<T, AppError>;
