//! How a response ends: upstream exceptions mapped to the error model, and the usage report.

use conduit_core::{Error, ErrorKind, Usage};

use super::{protocol, Assembler};

impl Assembler {
    pub(super) fn exception(&self, kind: &str, message: &str) -> Error {
        let text = format!("Kiro reported {kind}: {message}");
        if kind.contains("Throttling") {
            return Error::new(ErrorKind::RateLimited, text);
        }
        if message.contains("CONTENT_LENGTH_EXCEEDS_THRESHOLD")
            || message.contains("Input is too long")
        {
            let max = u64::from(self.opts.context_window);
            let tokens = u64::from(self.opts.input_tokens).max(max + 1);
            return Error::context_overflow(tokens, max);
        }
        if kind.contains("InternalServer")
            || kind.contains("ServiceUnavailable")
            || message.contains("INSUFFICIENT_MODEL_CAPACITY")
            || message.contains("high load")
        {
            return Error::new(ErrorKind::Overloaded, text);
        }
        protocol(text)
    }

    /// Kiro's own counts when a `metadataEvent` gave them (the last one wins: it is a running
    /// total); otherwise the estimate, marked as such.
    pub(super) fn usage(&self) -> Usage {
        let output = conduit_core::tokens::count_text(&self.emitted);
        let estimate = self.opts.input_tokens;
        let mut usage = Usage {
            credits: self.credits,
            ..Usage::default()
        };
        if let Some(u) = &self.token_usage {
            let exact_input = u.uncached_input_tokens.is_some()
                || u.cache_read_input_tokens.is_some()
                || u.cache_write_input_tokens.is_some();
            usage.input_tokens = match u.uncached_input_tokens {
                Some(n) => n,
                None if exact_input => 0,
                None => estimate,
            };
            usage.cache_read_input_tokens = u.cache_read_input_tokens.unwrap_or(0);
            usage.cache_creation_input_tokens = u.cache_write_input_tokens.unwrap_or(0);
            usage.output_tokens = u.output_tokens.unwrap_or(output);
            usage.estimated = !exact_input || u.output_tokens.is_none();
            return usage;
        }
        usage.input_tokens = match self.context_percentage {
            Some(pct) if pct > 0.0 => {
                let total = pct / 100.0 * f64::from(self.opts.context_window);
                let derived = (total - f64::from(output)).max(0.0).round() as u32;
                derived.max(estimate)
            }
            _ => estimate,
        };
        usage.output_tokens = output;
        usage.estimated = true;
        usage
    }
}
