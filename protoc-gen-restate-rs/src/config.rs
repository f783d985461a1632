//! The Restate configuration a service declares in its `.proto` with our own options,
//! `(restate_rs.service)` and `(restate_rs.handler)` from `restate_rs/options.proto`: read
//! through prost-reflect (the options are message-typed extensions) and checked.

use prost_reflect::{DynamicMessage, ExtensionDescriptor, Value};
use std::fmt;
use std::time::Duration;

/// The full name of the service-level option.
pub(crate) const SERVICE_OPTION: &str = "restate_rs.service";
/// The full name of the handler-level option.
pub(crate) const HANDLER_OPTION: &str = "restate_rs.handler";

/// What a service or a handler declares with `(restate_rs.service)` or `(restate_rs.handler)`.
/// `None` everywhere means "restate-server's default" (or, on a handler, "the service's").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// How long the result of a call with an idempotency key is kept.
    pub idempotency_retention: Option<Duration>,
    /// How long the journal of a completed invocation is kept.
    pub journal_retention: Option<Duration>,
    /// How long a completed workflow keeps its result, state and promises (workflows only;
    /// it applies to the run handler).
    pub workflow_retention: Option<Duration>,
    /// How long an invocation may make no progress before it is asked to suspend.
    pub inactivity_timeout: Option<Duration>,
    /// How long after that request it is aborted.
    pub abort_timeout: Option<Duration>,
    /// Whether the ingress refuses calls (only other services may call).
    pub ingress_private: Option<bool>,
    /// Whether state is fetched lazily instead of sent with each invocation.
    pub enable_lazy_state: Option<bool>,
    /// How failed invocations are retried.
    pub retry_policy: RetryPolicy,
    /// The key template (objects and workflows), for the generated clients; not in the
    /// manifest.
    pub key: Option<String>,
    /// Whether keys whose fields are all empty are used as they are.
    pub allow_empty_key: Option<bool>,
    /// The idempotency key template (handlers only), for the generated clients.
    pub idempotency_key: Option<String>,
}

/// The retry policy of a [`Config`]; each field set on its own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetryPolicy {
    /// The wait before the first retry.
    pub initial_interval: Option<Duration>,
    /// The longest wait between two attempts.
    pub max_interval: Option<Duration>,
    /// Attempts in all, the first call included.
    pub max_attempts: Option<u32>,
    /// By how much each wait grows.
    pub exponentiation_factor: Option<f64>,
    /// What happens after the last attempt.
    pub on_max_attempts: Option<OnMaxAttempts>,
}

/// What restate-server does with an invocation that used up its attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMaxAttempts {
    /// Pause it until an operator resumes it.
    Pause,
    /// Fail it.
    Kill,
}

impl Config {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self == &Config::default()
    }

    /// `name = value` for every field set, in declaration order, durations written back in
    /// the proto's notation: what the generated rustdoc lists.
    pub fn describe(&self) -> Vec<String> {
        let duration = |d: Option<Duration>| d.map(|d| format!("\"{}\"", format_duration(d)));
        let retry = &self.retry_policy;
        [
            (
                "idempotency_retention",
                duration(self.idempotency_retention),
            ),
            ("journal_retention", duration(self.journal_retention)),
            ("inactivity_timeout", duration(self.inactivity_timeout)),
            ("abort_timeout", duration(self.abort_timeout)),
            (
                "ingress_private",
                self.ingress_private.map(|v| v.to_string()),
            ),
            (
                "enable_lazy_state",
                self.enable_lazy_state.map(|v| v.to_string()),
            ),
            (
                "retry_policy.initial_interval",
                duration(retry.initial_interval),
            ),
            ("retry_policy.max_interval", duration(retry.max_interval)),
            (
                "retry_policy.max_attempts",
                retry.max_attempts.map(|v| v.to_string()),
            ),
            (
                "retry_policy.exponentiation_factor",
                retry.exponentiation_factor.map(|v| format!("{v:?}")),
            ),
            (
                "retry_policy.on_max_attempts",
                retry.on_max_attempts.map(|v| v.to_string()),
            ),
            ("workflow_retention", duration(self.workflow_retention)),
            ("key", self.key.as_ref().map(|k| format!("{k:?}"))),
            (
                "allow_empty_key",
                self.allow_empty_key.map(|v| v.to_string()),
            ),
            (
                "idempotency_key",
                self.idempotency_key.as_ref().map(|k| format!("{k:?}")),
            ),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some(format!("{name} = {}", value?)))
        .collect()
    }
}

impl fmt::Display for OnMaxAttempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OnMaxAttempts::Pause => "PAUSE",
            OnMaxAttempts::Kill => "KILL",
        })
    }
}

/// Where a configuration was declared, which decides what it may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    /// `(restate_rs.service)` on a service of this kind.
    Service(crate::ServiceKind),
    /// `(restate_rs.handler)` on a handler of this kind, in a service of this kind.
    Handler(crate::ServiceKind, crate::HandlerKind),
}

impl Scope {
    fn option(self) -> &'static str {
        match self {
            Scope::Service(_) => "(restate_rs.service)",
            Scope::Handler(..) => "(restate_rs.handler)",
        }
    }
}

/// Reads the option `extension` from `options` (a service's or a method's), if it is set,
/// into a [`Config`]. Values that cannot be read (a duration that is not one) are left out
/// and reported in `errors`.
pub(crate) fn read(
    options: &DynamicMessage,
    extension: Option<&ExtensionDescriptor>,
    scope: Scope,
    errors: &mut Vec<String>,
) -> Config {
    let Some(extension) = extension else {
        return Config::default();
    };
    if !options.has_extension(extension) {
        return Config::default();
    }
    let value = options.get_extension(extension);
    let Value::Message(message) = value.as_ref() else {
        return Config::default();
    };
    let option = scope.option();
    let mut reader = Reader {
        message,
        prefix: option.to_owned(),
        errors,
    };
    let mut config = Config {
        // In the order of the fields in options.proto, so errors come in that order.
        idempotency_retention: reader.duration("idempotency_retention"),
        journal_retention: reader.duration("journal_retention"),
        inactivity_timeout: reader.duration("inactivity_timeout"),
        abort_timeout: reader.duration("abort_timeout"),
        ingress_private: reader.bool("ingress_private"),
        enable_lazy_state: reader.bool("enable_lazy_state"),
        retry_policy: RetryPolicy::default(),
        workflow_retention: None,
        key: None,
        allow_empty_key: None,
        idempotency_key: None,
    };
    if message.has_field_by_name("retry_policy")
        && let Some(value) = message.get_field_by_name("retry_policy")
        && let Value::Message(retry) = value.as_ref()
    {
        let mut reader = Reader {
            message: retry,
            prefix: format!("{option}.retry_policy"),
            errors: reader.errors,
        };
        config.retry_policy = RetryPolicy {
            initial_interval: reader.duration("initial_interval"),
            max_interval: reader.duration("max_interval"),
            max_attempts: reader.get("max_attempts").and_then(|v| v.as_u32()),
            exponentiation_factor: reader.get("exponentiation_factor").and_then(|v| v.as_f64()),
            on_max_attempts: reader.on_max_attempts(),
        };
    }
    config.workflow_retention = reader.duration("workflow_retention");
    config.key = reader
        .get("key")
        .and_then(|v| v.as_str().map(str::to_owned));
    config.allow_empty_key = reader.bool("allow_empty_key");
    config.idempotency_key = reader
        .get("idempotency_key")
        .and_then(|v| v.as_str().map(str::to_owned));
    config
}

struct Reader<'a> {
    message: &'a DynamicMessage,
    prefix: String,
    errors: &'a mut Vec<String>,
}

impl Reader<'_> {
    fn get(&self, field: &str) -> Option<Value> {
        if !self.message.has_field_by_name(field) {
            return None;
        }
        self.message
            .get_field_by_name(field)
            .map(std::borrow::Cow::into_owned)
    }

    fn bool(&self, field: &str) -> Option<bool> {
        self.get(field).and_then(|v| v.as_bool())
    }

    fn duration(&mut self, field: &str) -> Option<Duration> {
        let value = self.get(field)?;
        let text = value.as_str()?;
        match parse_duration(text) {
            Ok(d) => Some(d),
            Err(why) => {
                self.errors
                    .push(format!("{}.{field} = \"{text}\" {why}", self.prefix));
                None
            }
        }
    }

    fn on_max_attempts(&mut self) -> Option<OnMaxAttempts> {
        match self.get("on_max_attempts")?.as_enum_number()? {
            0 => None,
            1 => Some(OnMaxAttempts::Pause),
            2 => Some(OnMaxAttempts::Kill),
            n => {
                self.errors.push(format!(
                    "{}.on_max_attempts has the unknown value {n}; use PAUSE or KILL",
                    self.prefix
                ));
                None
            }
        }
    }
}

const DURATION_HELP: &str = "write one or more <integer><unit> parts with the units ms, s, m, h and d, as in \"500ms\", \"10s\", \"5m\", \"24h\", \"7d\" or \"1h30m\"";

/// Parses `"500ms"`, `"10s"`, `"5m"`, `"24h"`, `"7d"`, `"1h30m"`: one or more parts of an
/// integer and a unit. The error completes the sentence "`<field> = "<text>"` ...".
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    if text.is_empty() {
        return Err(format!("is empty; {DURATION_HELP}"));
    }
    if text.starts_with('-') {
        return Err("is negative; durations are zero or longer".to_owned());
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_len = rest[digits..]
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len() - digits);
        let (number, unit) = (&rest[..digits], &rest[digits..digits + unit_len]);
        let millis_per_unit: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(format!("is not a duration: {DURATION_HELP}")),
        };
        if number.is_empty() {
            return Err(format!("is not a duration: {DURATION_HELP}"));
        }
        let too_long = || "is too long".to_owned();
        let n: u64 = number.parse().map_err(|_| too_long())?;
        total = n
            .checked_mul(millis_per_unit)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(too_long)?;
        rest = &rest[digits + unit_len..];
    }
    Ok(Duration::from_millis(total))
}

/// A duration in the notation [`parse_duration`] reads, with the largest units first.
pub(crate) fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// The problems of `config`, declared at `scope`; `service` is the configuration of the
/// service, for the checks that look at both (a handler's retry intervals against the
/// service's). Each message starts with the option's name.
pub(crate) fn check(config: &Config, service: &Config, scope: Scope) -> Vec<String> {
    use crate::{HandlerKind, ServiceKind};
    let option = scope.option();
    let mut errors = Vec::new();
    match scope {
        Scope::Service(ServiceKind::Service) | Scope::Handler(ServiceKind::Service, _)
            if config.key.is_some() =>
        {
            errors.push(format!(
                "{option}.key is set on a SERVICE; stateless services are called without a key (make it a VIRTUAL_OBJECT or WORKFLOW, or remove the option)"
            ));
        }
        Scope::Handler(_, HandlerKind::WorkflowRun) if config.idempotency_key.is_some() => {
            errors.push(format!(
                "{option}.idempotency_key is set on a workflow's run handler; it runs once per workflow id already, and restate-server refuses idempotency keys there"
            ));
        }
        _ => {}
    }
    let mut positive = |name: &str, value: Option<Duration>| {
        if value == Some(Duration::ZERO) {
            errors.push(format!(
                "{option}.{name} is zero; it must be longer than zero (leave it unset for restate-server's default)"
            ));
        }
    };
    positive("inactivity_timeout", config.inactivity_timeout);
    positive("abort_timeout", config.abort_timeout);
    positive(
        "retry_policy.initial_interval",
        config.retry_policy.initial_interval,
    );
    positive(
        "retry_policy.max_interval",
        config.retry_policy.max_interval,
    );

    let retry = &config.retry_policy;
    if retry.max_attempts == Some(0) {
        errors.push(format!(
            "{option}.retry_policy.max_attempts is 0; it counts the first call, so it must be at least 1"
        ));
    }
    if let Some(factor) = retry.exponentiation_factor
        && !(factor.is_finite() && factor >= 1.0)
    {
        errors.push(format!(
            "{option}.retry_policy.exponentiation_factor is {factor}; it must be a number of at least 1 (1 waits the same between all attempts)"
        ));
    }
    // The intervals in force where this configuration applies: a handler's own, else its
    // service's. Checked where one of them is set.
    let inherited = match scope {
        Scope::Service(_) => &RetryPolicy::default(),
        Scope::Handler(..) => &service.retry_policy,
    };
    if retry.initial_interval.is_some() || retry.max_interval.is_some() {
        let initial = retry.initial_interval.or(inherited.initial_interval);
        let max = retry.max_interval.or(inherited.max_interval);
        if let (Some(initial), Some(max)) = (initial, max)
            && max < initial
            && max > Duration::ZERO
        {
            errors.push(format!(
                "{option}.retry_policy.max_interval (\"{}\") is shorter than initial_interval (\"{}\"){}; the longest wait cannot be shorter than the first",
                format_duration(max),
                format_duration(initial),
                if matches!(scope, Scope::Handler(..))
                    && (retry.initial_interval.is_none() || retry.max_interval.is_none())
                {
                    " (one of them from (restate_rs.service))"
                } else {
                    ""
                }
            ));
        }
    }

    let (service_kind, handler_kind) = match scope {
        Scope::Service(kind) => (kind, None),
        Scope::Handler(kind, handler) => (kind, Some(handler)),
    };
    if config.enable_lazy_state.is_some() && service_kind == ServiceKind::Service {
        errors.push(format!(
            "{option}.enable_lazy_state is set on a stateless SERVICE, which has no state; remove it, or make the service a VIRTUAL_OBJECT or WORKFLOW"
        ));
    }
    if config.workflow_retention.is_some() {
        match (service_kind, handler_kind) {
            (ServiceKind::Workflow, None | Some(HandlerKind::WorkflowRun)) => {}
            (ServiceKind::Workflow, Some(_)) => errors.push(format!(
                "{option}.workflow_retention is set on a shared handler; it belongs on the workflow's run handler or on the service"
            )),
            (kind, _) => errors.push(format!(
                "{option}.workflow_retention is for workflows, and this is a {kind}; use idempotency_retention or journal_retention"
            )),
        }
    }
    if handler_kind.is_some()
        && service.ingress_private == Some(true)
        && config.ingress_private == Some(false)
    {
        errors.push(format!(
            "{option}.ingress_private is false in a service that is ingress-private, which restate-server refuses; make the service public and set ingress_private on the handlers to hide"
        ));
    }
    if config.idempotency_retention.is_some() && handler_kind == Some(HandlerKind::WorkflowRun) {
        errors.push(format!(
            "{option}.idempotency_retention does not apply to a workflow's run handler (a workflow id runs once); use workflow_retention"
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (text, ms) in [
            ("500ms", 500),
            ("10s", 10_000),
            ("5m", 300_000),
            ("24h", 86_400_000),
            ("7d", 604_800_000),
            ("1h30m", 5_400_000),
            ("0s", 0),
            ("1m1ms", 60_001),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
            assert_eq!(
                parse_duration(&format_duration(Duration::from_millis(ms))),
                Ok(Duration::from_millis(ms))
            );
        }
        assert_eq!(format_duration(Duration::from_millis(5_400_000)), "1h30m");
        for bad in ["", "10", "s", "10 s", "1.5h", "10sec", "5w", " 5s", "ms5"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            parse_duration("-5s").unwrap_err(),
            "is negative; durations are zero or longer"
        );
        assert_eq!(
            parse_duration("99999999999999999999d").unwrap_err(),
            "is too long"
        );
        assert_eq!(
            parse_duration("999999999999999d").unwrap_err(),
            "is too long"
        );
    }
}
