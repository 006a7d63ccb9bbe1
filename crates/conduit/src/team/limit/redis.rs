//! The counts in Redis (`REDIS_URL`): one script call an admission, atomic on the server. Per
//! scope: RPM is a counter per minute window (`INCR` + `EXPIRE`), TPM a counter per window that
//! dropped admissions add their tokens to, and the open streams a sorted set of lease ids
//! scored by their expiry (`ZREMRANGEBYSCORE` the expired, `ZCARD`, `ZADD`). The script checks
//! every scope first and counts only when all admit, as the other counters do.

use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::Script;
use conduit_core::{Error, ErrorKind};

use super::{Limit, Plan, Refusal, Release, WINDOW};

/// How long one call may take before the counter counts as unreachable.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Window counters outlive their window by one more (the previous window is read).
const WINDOW_TTL_SECS: i64 = 2 * WINDOW;

/// KEYS: five per scope (RPM current and previous window, TPM current and previous, streams).
/// ARGV: now (ms), seconds into the window, lease id, lease expiry (ms), window TTL (s), then
/// three per scope: rpm, tpm, max streams (-1: none). Returns {scope index, 1 rpm | 2 tpm |
/// 3 streams} for a refusal, {-1, 0} when admitted. The estimates are `super::rpm_over` and
/// `super::tpm_over`.
const ADMIT: &str = r"
local now = tonumber(ARGV[1])
local elapsed = tonumber(ARGV[2])
local scopes = #KEYS / 5
for i = 0, scopes - 1 do
  local k = i * 5
  local rpm = tonumber(ARGV[6 + i * 3])
  local tpm = tonumber(ARGV[7 + i * 3])
  local max = tonumber(ARGV[8 + i * 3])
  if rpm >= 0 then
    local cur = tonumber(redis.call('GET', KEYS[k + 1]) or '0')
    local prev = tonumber(redis.call('GET', KEYS[k + 2]) or '0')
    if prev * (60 - elapsed) + (cur + 1) * 60 > rpm * 60 then return {i, 1} end
  end
  if tpm >= 0 then
    local cur = tonumber(redis.call('GET', KEYS[k + 3]) or '0')
    local prev = tonumber(redis.call('GET', KEYS[k + 4]) or '0')
    if prev * (60 - elapsed) + cur * 60 >= tpm * 60 then return {i, 2} end
  end
  if max >= 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 5], '-inf', now)
    if redis.call('ZCARD', KEYS[k + 5]) >= max then return {i, 3} end
  end
end
for i = 0, scopes - 1 do
  local k = i * 5
  if tonumber(ARGV[6 + i * 3]) >= 0 then
    redis.call('INCR', KEYS[k + 1])
    redis.call('EXPIRE', KEYS[k + 1], ARGV[5])
  end
  if tonumber(ARGV[8 + i * 3]) >= 0 then
    redis.call('ZADD', KEYS[k + 5], ARGV[4], ARGV[3])
    redis.call('PEXPIRE', KEYS[k + 5], tonumber(ARGV[4]) - now)
  end
end
return {-1, 0}
";

pub(super) struct Shared {
    conn: ConnectionManager,
    prefix: String,
    admit: Script,
}

impl Shared {
    /// A lazily connecting, reconnecting handle on `url` (nothing is sent yet: an unreachable
    /// Redis shows at the first admission, under the fail mode).
    pub(super) fn connect(url: &str, prefix: &str) -> Result<Shared, Error> {
        let bad = |e: ::redis::RedisError| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!("REDIS_URL is not a usable Redis URL (redis://host:port/db): {e}"),
            )
        };
        let client = ::redis::Client::open(url).map_err(bad)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(bad)?;
        Ok(Shared {
            conn,
            prefix: prefix.to_owned(),
            admit: Script::new(ADMIT),
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn window_key(&self, name: &str, start: i64) -> String {
        format!("{}{name}:{start}", self.prefix)
    }

    /// Count `plan` if every limit admits it, else the refusal; `Err` when Redis fails.
    pub(super) async fn admit(&self, plan: &Plan) -> Result<Option<Refusal>, String> {
        let start = plan.window_start();
        let mut call = self.admit.prepare_invoke();
        call.arg(plan.now_ms)
            .arg(plan.elapsed())
            .arg(&plan.lease_id)
            .arg(plan.lease_expires_ms)
            .arg(WINDOW_TTL_SECS);
        for check in &plan.checks {
            let (rpm, tpm) = (check.name("rpm"), check.name("tpm"));
            call.key(self.window_key(&rpm, start))
                .key(self.window_key(&rpm, start - WINDOW))
                .key(self.window_key(&tpm, start))
                .key(self.window_key(&tpm, start - WINDOW))
                .key(self.key(&check.name("streams")));
            let limits = check.limits;
            for limit in [limits.rpm, limits.tpm, limits.max_streams] {
                call.arg(limit.unwrap_or(-1));
            }
        }
        let mut conn = self.conn.clone();
        let answer: Vec<i64> = tokio::time::timeout(CALL_TIMEOUT, call.invoke_async(&mut conn))
            .await
            .map_err(|_| format!("no answer within {CALL_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        let limit = match answer.as_slice() {
            [-1, _] => return Ok(None),
            [_, 1] => Limit::Rpm,
            [_, 2] => Limit::Tpm,
            [_, 3] => Limit::Streams,
            other => {
                return Err(format!(
                    "unexpected answer from the limits script: {other:?}"
                ))
            }
        };
        let check = usize::try_from(answer[0]).map_err(|e| e.to_string())?;
        Ok(Some(Refusal { check, limit }))
    }

    /// End the leases and add the tokens: one pipeline.
    pub(super) async fn release(&self, release: &Release) -> Result<(), String> {
        let mut pipe = ::redis::pipe();
        for name in &release.streams {
            pipe.cmd("ZREM")
                .arg(self.key(name))
                .arg(&release.lease_id)
                .ignore();
        }
        for name in &release.tpm {
            let key = self.window_key(name, release.window);
            pipe.cmd("INCRBY").arg(&key).arg(release.tokens).ignore();
            pipe.cmd("EXPIRE").arg(&key).arg(WINDOW_TTL_SECS).ignore();
        }
        let mut conn = self.conn.clone();
        tokio::time::timeout(CALL_TIMEOUT, pipe.exec_async(&mut conn))
            .await
            .map_err(|_| format!("no answer within {CALL_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())
    }
}
