//! Keys taken from requests: where a `.proto` declares a virtual object's or workflow's key, or
//! a handler's idempotency key, as a template over request fields (`key = "{project_id}"`,
//! `idempotency_key = "deploy-{project_id}-{build_id}"` in `restate_rs/options.proto`), the
//! generated clients build it from each request. A key whose fields are all empty (unset, or
//! at their default) is refused before anything is sent, with an [`EmptyKey`] naming the
//! fields, unless the proto says `allow_empty_key`.
//!
//! ```text
//! option (restate_rs.service).key = "{project_id}";     // on DeploymentService
//!
//! deployments.deploy(request).call().await?;                     // the key is request.project_id
//! deployments.deploy_with_key("p-1", request).call().await?;     // the explicit form stays
//! ```

use std::fmt;

/// Which key a template makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// The key of a virtual object or workflow.
    Key,
    /// An idempotency key.
    IdempotencyKey,
}

/// What the generated code knows about a declared key.
#[doc(hidden)]
#[derive(Debug)]
pub struct KeySpec {
    /// The Restate service name.
    pub service: &'static str,
    /// The handler name.
    pub handler: &'static str,
    /// Which key.
    pub kind: KeyKind,
    /// The template as declared.
    pub template: &'static str,
    /// The request fields it is made of.
    pub fields: &'static [&'static str],
    /// Whether an empty key is used as it is.
    pub allow_empty: bool,
}

/// A key (or idempotency key) declared in the proto whose request fields were all empty:
/// refused before the request is sent, as it is almost always a field left unset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptyKey {
    /// `service/handler`.
    pub target: String,
    /// Which key.
    pub kind: KeyKind,
    /// The template as declared.
    pub template: &'static str,
    /// The request fields it is made of.
    pub fields: &'static [&'static str],
}

impl fmt::Display for EmptyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, remedy) = match self.kind {
            KeyKind::Key => ("key", "pass the key explicitly"),
            KeyKind::IdempotencyKey => ("idempotency key", "set an idempotency key explicitly"),
        };
        let fields: Vec<String> = self.fields.iter().map(|f| format!("`{f}`")).collect();
        write!(
            f,
            "the {what} of {} would be empty: the request's {} {} unset (the proto declares {what} {:?}); set {}, or {remedy}",
            self.target,
            if fields.len() == 1 { "field" } else { "fields" },
            if fields.len() == 1 {
                format!("{} is", fields[0])
            } else {
                format!("{} are all", fields.join(", "))
            },
            self.template,
            if fields.len() == 1 { "it" } else { "them" },
        )
    }
}

impl std::error::Error for EmptyKey {}

impl From<EmptyKey> for restate_sdk::errors::TerminalError {
    fn from(e: EmptyKey) -> Self {
        restate_sdk::errors::TerminalError::new_with_code(400, e.to_string())
    }
}

/// A value that can be part of a key, rendered as in proto3 JSON.
#[doc(hidden)]
pub trait KeyValue {
    /// Appends the value; whether it is set (not the field's default).
    fn render(&self, out: &mut String) -> bool;
}

impl KeyValue for String {
    fn render(&self, out: &mut String) -> bool {
        out.push_str(self);
        !self.is_empty()
    }
}

impl KeyValue for bool {
    fn render(&self, out: &mut String) -> bool {
        out.push_str(if *self { "true" } else { "false" });
        *self
    }
}

macro_rules! integer_key_values {
    ($($t:ty),*) => {$(
        impl KeyValue for $t {
            fn render(&self, out: &mut String) -> bool {
                use std::fmt::Write;
                let _ = write!(out, "{self}");
                *self != 0
            }
        }
    )*};
}

integer_key_values!(i32, i64, u32, u64);

/// Builds a key from literal text and request fields, in the generated code.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct KeyBuilder {
    text: String,
    any_set: bool,
}

impl KeyBuilder {
    /// An empty key.
    pub fn new() -> Self {
        Self::default()
    }

    /// Text of the template.
    pub fn literal(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// A field (`None`: unset).
    pub fn field<T: KeyValue + ?Sized>(&mut self, value: Option<&T>) {
        if let Some(value) = value {
            self.any_set |= value.render(&mut self.text);
        }
    }

    /// An enum field, by the name of its value (its number when the value is unknown).
    pub fn enumeration(
        &mut self,
        value: Option<i32>,
        name: impl FnOnce(i32) -> Option<&'static str>,
    ) {
        if let Some(number) = value {
            match name(number) {
                Some(name) => self.text.push_str(name),
                None => {
                    number.render(&mut self.text);
                }
            }
            self.any_set |= number != 0;
        }
    }

    /// The key, or [`EmptyKey`] when every field was empty and the spec does not allow it.
    pub fn finish(self, spec: &KeySpec) -> Result<String, EmptyKey> {
        if self.any_set || spec.allow_empty {
            Ok(self.text)
        } else {
            Err(spec.empty())
        }
    }

    /// An idempotency key: none when every field was empty and the spec allows it (a request
    /// without its id is not idempotent), [`EmptyKey`] when it does not.
    pub fn finish_optional(self, spec: &KeySpec) -> Result<Option<String>, EmptyKey> {
        match (self.any_set, spec.allow_empty) {
            (true, _) => Ok(Some(self.text)),
            (false, true) => Ok(None),
            (false, false) => Err(spec.empty()),
        }
    }
}

impl KeySpec {
    fn empty(&self) -> EmptyKey {
        EmptyKey {
            target: format!("{}/{}", self.service, self.handler),
            kind: self.kind,
            template: self.template,
            fields: self.fields,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: KeySpec = KeySpec {
        service: "hydra.v1.DeployService",
        handler: "Deploy",
        kind: KeyKind::Key,
        template: "{app_id}:{environment_id}",
        fields: &["app_id", "environment_id"],
        allow_empty: false,
    };

    #[test]
    fn values_render_as_in_proto3_json() {
        let mut key = KeyBuilder::new();
        key.field(Some(&"app".to_owned()));
        key.literal(":");
        key.field(Some(&-42i64));
        key.literal(":");
        key.field(Some(&7u32));
        key.literal(":");
        key.field::<bool>(None);
        key.literal(":");
        key.enumeration(Some(2), |n| (n == 2).then_some("ENVIRONMENT_PRODUCTION"));
        key.literal(":");
        key.enumeration(Some(9), |_| None);
        assert_eq!(
            key.finish(&SPEC).unwrap(),
            "app:-42:7::ENVIRONMENT_PRODUCTION:9"
        );
    }

    #[test]
    fn a_key_of_empty_fields_is_refused_with_their_names() {
        let mut key = KeyBuilder::new();
        key.field(Some(&String::new()));
        key.literal(":");
        key.enumeration(Some(0), |_| Some("ENVIRONMENT_UNSPECIFIED"));
        let error = key.finish(&SPEC).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the key of hydra.v1.DeployService/Deploy would be empty: the request's fields `app_id`, `environment_id` are all unset (the proto declares key \"{app_id}:{environment_id}\"); set them, or pass the key explicitly"
        );
        let allowed = KeySpec {
            allow_empty: true,
            ..SPEC
        };
        let mut key = KeyBuilder::new();
        key.field(Some(&String::new()));
        key.literal(":");
        assert_eq!(key.finish(&allowed).unwrap(), ":");
        let mut key = KeyBuilder::new();
        key.field(Some(&0u64));
        assert_eq!(key.finish_optional(&allowed).unwrap(), None);
    }
}
