//! Pure rules of profiles, privacy and the versioned lists: what a valid nick or birthday is,
//! who may see a profile or send a message, and how a list delta is folded from its change log.

use shared::contacts::{MAX_NICK_CHARS, MAX_NOTE_CHARS, MsgPolicy, OpenLevel, PresenceLevel};
use shared::{ErrorCode, Millis};

/// Refused input, with the stable code it answers with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub code: ErrorCode,
    pub message: &'static str,
}

fn invalid(code: ErrorCode, message: &'static str) -> Invalid {
    Invalid { code, message }
}

/// A nick name is kept as given, but must hold something besides whitespace and be at most
/// `MAX_NICK_CHARS` characters.
pub fn parse_nick(nick: String) -> Result<String, Invalid> {
    if nick.trim().is_empty() || nick.chars().count() > MAX_NICK_CHARS {
        return Err(invalid(
            ErrorCode::InvalidNickName,
            "a nick name must contain something besides spaces and be at most 254 characters",
        ));
    }
    Ok(nick)
}

/// A birthday as stored: `None` clears it (the wire's 0), otherwise a real calendar date written
/// YYYYMMDD with a four-digit year (so 20240229 is fine, 20230229 is not).
pub fn parse_birthday(birthday: u32) -> Result<Option<u32>, Invalid> {
    if birthday == 0 {
        return Ok(None);
    }
    let (year, month, day) = (birthday / 10_000, birthday / 100 % 100, birthday % 100);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if !(1000..=9999).contains(&year) || day == 0 || day > days {
        return Err(invalid(
            ErrorCode::InvalidBirthday,
            "a birthday must be a real date written YYYYMMDD (or 0 to clear it)",
        ));
    }
    Ok(Some(birthday))
}

/// A friend request's note: at most `MAX_NOTE_CHARS` characters.
pub fn parse_note(note: String) -> Result<String, Invalid> {
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(invalid(
            ErrorCode::NoteTooLong,
            "a note is at most 200 characters",
        ));
    }
    Ok(note)
}

/// How the viewer relates to a profile's owner, as far as privacy rules care.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relation {
    pub is_self: bool,
    pub friends: bool,
    /// The two share a group that is not dissolved.
    pub share_group: bool,
}

/// Whether `open_level` lets the viewer see the whole profile (uid and nick name are always
/// visible). The owner always sees their own.
pub fn may_see_profile(level: OpenLevel, relation: Relation) -> bool {
    relation.is_self
        || match level {
            OpenLevel::Everyone => true,
            OpenLevel::Friends => relation.friends,
            OpenLevel::GroupMembers => relation.friends || relation.share_group,
            OpenLevel::Nobody => false,
        }
}

/// Whether a recipient's `msg_policy` accepts one-to-one messages from the sender (blocks are
/// checked separately, before this).
pub fn may_message(policy: MsgPolicy, relation: Relation) -> bool {
    match policy {
        MsgPolicy::Anyone => true,
        MsgPolicy::Friends => relation.friends,
        MsgPolicy::GroupMembers => relation.friends || relation.share_group,
    }
}

/// Whether the viewer may see if the owner is online (`GET /api/users/{uid}/presence`). The
/// owner always may; someone the owner blocked never; otherwise friends, or anyone when the
/// owner's `presence_level` is `everyone`.
pub fn may_see_presence(level: PresenceLevel, relation: Relation, blocked_by_owner: bool) -> bool {
    relation.is_self
        || (!blocked_by_owner
            && match level {
                PresenceLevel::Everyone => true,
                PresenceLevel::Friends => relation.friends,
            })
}

/// The `time` of a profile as a viewer gets it. The full form carries the profile's time; the
/// hidden form its negation, so that a client's cached copy also says which form it holds, and
/// a batch request notices when the form changes (a friendship or a shared group that started
/// or ended) even though the profile itself did not.
pub fn viewer_time(profile_time: Millis, hidden: bool) -> Millis {
    if hidden { -profile_time } else { profile_time }
}

/// The next profile time: now, but always later than the previous one, so that a client
/// caching by time notices two changes within one millisecond.
pub fn next_profile_time(previous: Millis, now: Millis) -> Millis {
    now.max(previous.saturating_add(1))
}

/// Past this many changes, a whole list is cheaper (and safer) than a delta.
pub const MAX_DELTA_CHANGES: usize = 500;

/// Folds a list's changes after the client's version (ascending by version; `true` = added)
/// into what the client must add and remove, each ascending. Each item counts by its last
/// change: an item removed and added again is in `added`, one added and removed again is in
/// `removed` (even if the client never held it; removing what one does not hold is harmless).
pub fn fold_changes(changes: &[(i64, bool)]) -> (Vec<i64>, Vec<i64>) {
    let mut last = std::collections::BTreeMap::new();
    for &(item, added) in changes {
        last.insert(item, added);
    }
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for (item, was_added) in last {
        if was_added {
            added.push(item);
        } else {
            removed.push(item);
        }
    }
    (added, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birthdays_must_be_real_dates_including_leap_days() {
        assert_eq!(parse_birthday(0), Ok(None));
        for good in [19700506, 20240229, 20000229, 19991231, 10000101] {
            assert_eq!(parse_birthday(good), Ok(Some(good)), "{good}");
        }
        for bad in [
            20230229, 19000229, 19701301, 19700001, 19700100, 19700431, 999, 1231,
        ] {
            assert!(parse_birthday(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nicks_are_kept_as_given_but_must_not_be_blank_or_too_long() {
        assert_eq!(parse_nick(" Ann ".into()), Ok(" Ann ".into()));
        assert!(parse_nick(" \t\n".into()).is_err());
        assert!(parse_nick(String::new()).is_err());
        assert!(parse_nick("é".repeat(MAX_NICK_CHARS)).is_ok());
        assert!(parse_nick("é".repeat(MAX_NICK_CHARS + 1)).is_err());
    }

    #[test]
    fn each_open_level_shows_the_profile_to_the_right_people() {
        let stranger = Relation::default();
        let friend = Relation {
            friends: true,
            ..stranger
        };
        let co_member = Relation {
            share_group: true,
            ..stranger
        };
        let me = Relation {
            is_self: true,
            ..stranger
        };
        let sees = |level| {
            [stranger, friend, co_member, me].map(|relation| may_see_profile(level, relation))
        };
        assert_eq!(sees(OpenLevel::Everyone), [true, true, true, true]);
        assert_eq!(sees(OpenLevel::Friends), [false, true, false, true]);
        assert_eq!(sees(OpenLevel::GroupMembers), [false, true, true, true]);
        assert_eq!(sees(OpenLevel::Nobody), [false, false, false, true]);
    }

    #[test]
    fn presence_shows_to_self_friends_or_everyone_but_never_to_the_blocked() {
        let stranger = Relation::default();
        let friend = Relation {
            friends: true,
            ..Relation::default()
        };
        let me = Relation {
            is_self: true,
            ..Relation::default()
        };
        use PresenceLevel::{Everyone, Friends};
        assert!(!may_see_presence(Friends, stranger, false));
        assert!(may_see_presence(Friends, friend, false));
        assert!(may_see_presence(Friends, me, false));
        assert!(may_see_presence(Everyone, stranger, false));
        assert!(!may_see_presence(Everyone, stranger, true));
        assert!(!may_see_presence(Friends, friend, true));
        assert!(may_see_presence(Friends, me, true));
    }

    #[test]
    fn profile_times_always_move_forward() {
        assert_eq!(next_profile_time(100, 200), 200);
        assert_eq!(next_profile_time(200, 200), 201);
        assert_eq!(next_profile_time(300, 200), 301);
    }

    #[test]
    fn each_item_counts_by_its_last_change() {
        let changes = [
            (5, true),
            (3, true),
            (5, false),
            (7, false),
            (7, true),
            (9, true),
        ];
        assert_eq!(fold_changes(&changes), (vec![3, 7, 9], vec![5]));
    }
}
