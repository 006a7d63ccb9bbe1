//! [`Trouble`]: the last failure of an upstream that needs a person (refused credentials, an
//! account setting), kept for its typed status until a call succeeds again.

use std::sync::Mutex;

use conduit_core::{Error, ErrorKind, UpstreamState};

#[derive(Debug, Default)]
pub struct Trouble(Mutex<Option<(UpstreamState, String)>>);

impl Trouble {
    /// Remembers the outcome of a call: `None` (success) clears; refused credentials are
    /// `NeedsCredentials`; an error `needs_person` says a person must act on is `Failing`;
    /// anything else (throttling, a bad request) leaves what is known.
    pub fn note(&self, outcome: Option<&Error>, needs_person: impl Fn(&Error) -> bool) {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match outcome {
            None => *known = None,
            Some(e) if e.kind == ErrorKind::Credentials => {
                *known = Some((UpstreamState::NeedsCredentials, e.message.clone()));
            }
            Some(e) if needs_person(e) => {
                *known = Some((UpstreamState::Failing, e.message.clone()));
            }
            Some(_) => {}
        }
    }

    /// The state and reason last noted, if any.
    pub fn get(&self) -> Option<(UpstreamState, String)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_person_errors_stick_until_a_success() {
        let t = Trouble::default();
        let creds = Error::new(ErrorKind::Credentials, "refused");
        let throttled = Error::new(ErrorKind::RateLimited, "slow down");
        let setting = Error::invalid_request("opt in first");
        t.note(Some(&throttled), |_| false);
        assert_eq!(t.get(), None);
        t.note(Some(&creds), |_| false);
        assert_eq!(
            t.get(),
            Some((UpstreamState::NeedsCredentials, "refused".into()))
        );
        t.note(Some(&throttled), |_| false);
        assert_eq!(
            t.get().map(|(s, _)| s),
            Some(UpstreamState::NeedsCredentials)
        );
        t.note(Some(&setting), |e| e.message.contains("opt in"));
        assert_eq!(
            t.get(),
            Some((UpstreamState::Failing, "opt in first".into()))
        );
        t.note(None, |_| false);
        assert_eq!(t.get(), None);
    }
}
