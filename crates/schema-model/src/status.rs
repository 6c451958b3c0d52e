//! The request status state machine of seed 001.
//!
//! ```text
//! draft ──> requested ──> approved ──> migrated
//!   │           │            │  ^          │
//!   └───────────┴─> rejected <┘  └──────────┘ (rolled back)
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a schema request is in its workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    /// Saved but not yet submitted for review.
    Draft,
    /// Waiting for a reviewer.
    Requested,
    /// Approved by a reviewer; may be applied.
    Approved,
    /// Applied to a target database.
    Migrated,
    /// Refused by a reviewer; final.
    Rejected,
}

/// A status change the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a request cannot go from {from} to {to}")]
pub struct TransitionError {
    /// Current status.
    pub from: RequestStatus,
    /// Requested status.
    pub to: RequestStatus,
}

impl RequestStatus {
    /// Every status, in workflow order.
    pub const ALL: [RequestStatus; 5] = [Self::Draft, Self::Requested, Self::Approved, Self::Migrated, Self::Rejected];

    /// The statuses reachable in one step.
    pub fn next(self) -> &'static [RequestStatus] {
        match self {
            Self::Draft => &[Self::Requested, Self::Rejected],
            Self::Requested => &[Self::Approved, Self::Rejected],
            Self::Approved => &[Self::Migrated, Self::Rejected],
            // A rollback by the down migration makes the request approved again.
            Self::Migrated => &[Self::Approved],
            Self::Rejected => &[],
        }
    }

    /// Whether `to` is reachable in one step.
    pub fn can_become(self, to: RequestStatus) -> bool {
        self.next().contains(&to)
    }

    /// The new status, or why the change is not allowed.
    pub fn transition(self, to: RequestStatus) -> Result<RequestStatus, TransitionError> {
        if self.can_become(to) { Ok(to) } else { Err(TransitionError { from: self, to }) }
    }

    /// The lower-case name used in JSON and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Migrated => "migrated",
            Self::Rejected => "rejected",
        }
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RequestStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|status| status.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            format!("unknown status \"{s}\"; expected one of draft, requested, approved, migrated, rejected")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::RequestStatus::{self, *};

    #[test]
    fn transitions() {
        assert_eq!(Draft.transition(Requested), Ok(Requested));
        assert_eq!(Requested.transition(Approved), Ok(Approved));
        assert_eq!(Approved.transition(Migrated), Ok(Migrated));
        assert_eq!(Migrated.transition(Approved), Ok(Approved));
        assert!(Requested.transition(Migrated).is_err());
        assert!(Rejected.next().is_empty());
        for status in RequestStatus::ALL {
            assert!(!status.can_become(status), "{status} must not loop");
            assert_eq!(status.as_str().parse::<RequestStatus>(), Ok(status));
        }
        assert_eq!(
            Requested.transition(Migrated).unwrap_err().to_string(),
            "a request cannot go from requested to migrated"
        );
    }
}
