//! The embeddable widget: whom it talks to, and how a site signs its own users in.
//!
//! A site puts `<script src="https://COURIER/widget.js" data-target="u:42" async>` on its pages;
//! the script opens `/widget?target=u:42&...` in an iframe. A site that has its own logged-in
//! users may sign them in with an identity token: an HS256 JWT made with the site's secret
//! (`--site-keys SITE=SECRET`), claims `iss` (the site id), `sub` (the site's user id), `exp`
//! (seconds since the epoch) and optionally `name` (the nick to show). The same `iss` + `sub` is
//! always the same uid, on every device.

use crate::{GroupId, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Whom a widget talks to: a support user (`u:42`) or a group or public room (`g:7`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WidgetTarget {
    User(UserId),
    Group(GroupId),
}

impl FromStr for WidgetTarget {
    type Err = InvalidTarget;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, id) = s.trim().split_once(':').ok_or(InvalidTarget)?;
        let id: i64 = id.parse().map_err(|_| InvalidTarget)?;
        if id <= 0 {
            return Err(InvalidTarget);
        }
        match kind {
            "u" => Ok(WidgetTarget::User(UserId(id))),
            "g" => Ok(WidgetTarget::Group(GroupId(id))),
            _ => Err(InvalidTarget),
        }
    }
}

impl fmt::Display for WidgetTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WidgetTarget::User(uid) => write!(f, "u:{uid}"),
            WidgetTarget::Group(gid) => write!(f, "g:{gid}"),
        }
    }
}

/// A widget target that is not `u:UID` or `g:GID` with a positive id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidTarget;

impl fmt::Display for InvalidTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a widget target is u:UID (a user) or g:GID (a group)")
    }
}

impl std::error::Error for InvalidTarget {}

/// `POST /api/session/identify` body. The answer is a [`crate::GuestSession`] (uid, token,
/// nick) for the site user, with the session cookie set as for a guest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentifyRequest {
    /// The site's HS256 JWT (see the module documentation).
    pub token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        for text in ["u:42", "g:7"] {
            let target: WidgetTarget = text.parse().expect("valid");
            assert_eq!(target.to_string(), text);
        }
        for bad in ["", "u", "u:", "u:0", "u:-3", "x:5", "g:abc", "u:1:2", "42"] {
            assert!(
                bad.parse::<WidgetTarget>().is_err(),
                "{bad} must be refused"
            );
        }
    }
}
