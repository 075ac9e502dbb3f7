//! The tool's one error type: what went wrong while setting up or driving a scenario.

/// Why a scenario could not run (its measurements, including losses, are results, not errors).
#[derive(Debug)]
pub enum Error {
    /// A server could not be found, started or reached.
    Setup(String),
    /// A local I/O call failed.
    Io(std::io::Error),
    /// An HTTP request failed at the transport level or timed out.
    Http(reqwest::Error),
    /// A server answered with an unexpected status or body.
    Protocol(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Setup(message) | Error::Protocol(message) => f.write_str(message),
            Error::Io(error) => write!(f, "I/O error: {error}"),
            Error::Http(error) => {
                write!(f, "HTTP error: {error}")?;
                let mut source = std::error::Error::source(error);
                while let Some(cause) = source {
                    write!(f, ": {cause}")?;
                    source = cause.source();
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Error::Io(error)
    }
}

impl From<reqwest::Error> for Error {
    fn from(error: reqwest::Error) -> Self {
        Error::Http(error)
    }
}
