use std::path::PathBuf;

/// Why the wiring could not be read. Every message names the template,
/// resource, rule or route at fault, since the operator has to find it.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    /// A file (the template or a state machine definition) is unreadable.
    #[error("cannot read {what} {}: {source}", path.display())]
    Io {
        what: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The template is not valid YAML.
    #[error("template {source_name} is not valid YAML: {message}")]
    Yaml {
        source_name: String,
        message: String,
    },
    /// A value could not be resolved (`!Ref` to an unknown name, unsupported
    /// intrinsic such as `!If`, wrong shape…). `location` names the resource
    /// and property, e.g. `function Foo, environment variable BAR`.
    #[error("{location}: {message}")]
    Resolve { location: String, message: String },
    /// The template's structure is not what the local runtime can use.
    #[error("{resource}: {message}")]
    Invalid { resource: String, message: String },
    /// An `Fn::ForEach` loop (AWS::LanguageExtensions) cannot be expanded. `location` is the
    /// section path to it, e.g. `Resources/Fn::ForEach::Tables`.
    #[error("{location}: Fn::ForEach: {message}")]
    ForEach { location: String, message: String },
    /// A parameter override or default is unusable.
    #[error("parameter {name}: {message}")]
    Parameter { name: String, message: String },
    /// Two routes with the same method and path (parameter names ignored).
    #[error("duplicate route {method} {path}: declared by {first} and by {second}")]
    DuplicateRoute {
        method: String,
        path: String,
        first: String,
        second: String,
    },
    /// A route path API Gateway would reject.
    #[error("route {method} {path} ({function}): {message}")]
    InvalidRoute {
        method: String,
        path: String,
        function: String,
        message: String,
    },
    /// An event pattern quamina (EventBridge semantics) rejects.
    #[error("rule {rule}: invalid event pattern: {message}")]
    InvalidPattern { rule: String, message: String },
    /// A `DefinitionSubstitutions` entry points at a function that does not exist.
    #[error(
        "state machine {state_machine}: DefinitionSubstitutions.{key} refers to unknown function {function}"
    )]
    UnknownFunction {
        state_machine: String,
        key: String,
        function: String,
    },
    /// A `${...}` placeholder is left in a definition after substitution.
    #[error(
        "state machine {state_machine}: definition still contains {placeholder} after substitution (missing from DefinitionSubstitutions?)"
    )]
    UnsubstitutedPlaceholder {
        state_machine: String,
        placeholder: String,
    },
}
