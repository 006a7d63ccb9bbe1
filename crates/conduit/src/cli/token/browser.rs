//! Opening the sign-in page: `$BROWSER` as xdg-open reads it (a colon-separated list of
//! commands, each with `%s` replaced by the URL, else the URL appended), else `xdg-open`,
//! `open` or the Windows URL handler. The browser never sees our stdout: that is the token's.

use std::process::{Command, Stdio};

/// Whether there is a browser to open at all: `$BROWSER`, a graphical session, or macOS or
/// Windows (docs/design-token.md §2, "interactive").
pub fn available(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("BROWSER").is_some()
        || env("DISPLAY").is_some()
        || env("WAYLAND_DISPLAY").is_some()
        || cfg!(any(target_os = "macos", target_os = "windows"))
}

/// The commands to try, in order, for `url` (`browser`: `$BROWSER`).
pub fn commands(browser: Option<&str>, url: &str) -> Vec<Vec<String>> {
    if let Some(list) = browser.filter(|b| !b.trim().is_empty()) {
        return list
            .split(':')
            .filter_map(|entry| command(entry, url))
            .collect();
    }
    let fallback: &[&str] = if cfg!(target_os = "macos") {
        &["open"]
    } else if cfg!(target_os = "windows") {
        &["rundll32", "url.dll,FileProtocolHandler"]
    } else {
        &["xdg-open"]
    };
    let mut argv: Vec<String> = fallback.iter().map(|s| s.to_string()).collect();
    argv.push(url.to_string());
    vec![argv]
}

/// One `$BROWSER` entry as argv: words split on whitespace, `%s` → the URL (`%%` → `%`), the
/// URL appended when no word named it.
fn command(entry: &str, url: &str) -> Option<Vec<String>> {
    let mut named = false;
    let mut argv: Vec<String> = entry
        .split_whitespace()
        .map(|word| {
            let mut out = String::new();
            let mut rest = word;
            while let Some(i) = rest.find('%') {
                out.push_str(&rest[..i]);
                match rest[i + 1..].chars().next() {
                    Some('s') => {
                        out.push_str(url);
                        named = true;
                        rest = &rest[i + 2..];
                    }
                    Some('%') => {
                        out.push('%');
                        rest = &rest[i + 2..];
                    }
                    _ => {
                        out.push('%');
                        rest = &rest[i + 1..];
                    }
                }
            }
            out.push_str(rest);
            out
        })
        .collect();
    if argv.is_empty() {
        return None;
    }
    if !named {
        argv.push(url.to_string());
    }
    Some(argv)
}

/// Start the first command that starts; whether one did. It runs on its own (reaped by a
/// thread), with no stdin, and stdout and stderr discarded.
pub fn open(env: &dyn Fn(&str) -> Option<String>, url: &str) -> bool {
    if !available(env) {
        return false;
    }
    for argv in commands(env("BROWSER").as_deref(), url) {
        let Some((program, args)) = argv.split_first() else {
            continue;
        };
        let spawned = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(mut child) = spawned {
            std::thread::spawn(move || child.wait());
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://gw/oauth/authorize?a=1&b=2";

    #[test]
    fn browser_variable_like_xdg_open() {
        let cases: &[(&str, &[&[&str]])] = &[
            ("firefox", &[&["firefox", URL]]),
            ("firefox --new-tab", &[&["firefox", "--new-tab", URL]]),
            ("firefox %s", &[&["firefox", URL]]),
            ("open -u %s --then", &[&["open", "-u", URL, "--then"]]),
            ("w3m:lynx", &[&["w3m", URL], &["lynx", URL]]),
            ("w3m::  :lynx", &[&["w3m", URL], &["lynx", URL]]),
            ("echo 100%% %s", &[&["echo", "100%", URL]]),
            ("echo url=%s", &[&["echo", &*format!("url={URL}")]]),
            ("echo %d", &[&["echo", "%d", URL]]),
            ("/opt/My%", &[&["/opt/My%", URL]]),
        ];
        for (browser, want) in cases {
            let got = commands(Some(browser), URL);
            let want: Vec<Vec<String>> = want
                .iter()
                .map(|a| a.iter().map(|s| s.to_string()).collect())
                .collect();
            assert_eq!(got, want, "BROWSER={browser:?}");
        }
    }

    #[test]
    fn without_browser_the_system_opener() {
        for unset in [None, Some(""), Some("  ")] {
            let got = commands(unset, URL);
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].last().map(String::as_str), Some(URL));
            #[cfg(target_os = "linux")]
            assert_eq!(got[0][0], "xdg-open");
        }
    }

    #[test]
    fn a_browser_is_there_with_browser_or_a_display() {
        let env_of = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let linux = cfg!(target_os = "linux");
        assert!(available(&env_of(&[("BROWSER", "x")])));
        assert!(available(&env_of(&[("DISPLAY", ":0")])));
        assert!(available(&env_of(&[("WAYLAND_DISPLAY", "wayland-0")])));
        assert_eq!(available(&env_of(&[])), !linux);
        assert!(!open(&env_of(&[("BROWSER", "/nonexistent/browser")]), URL));
    }
}
