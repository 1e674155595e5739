//! `spin.toml` (manifest version 2): the subset this host supports, parsed strictly.
//!
//! Anything the host does not implement is refused when the manifest is loaded, so a manifest
//! that starts here means the same thing it means under `spin up`.

use crate::outbound::AllowedHost;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The raw manifest, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManifest {
    spin_manifest_version: u32,
    // Required as under Spin, but nothing in it changes how the host serves.
    #[allow(dead_code)]
    application: Application,
    #[serde(default)]
    variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    trigger: Triggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
// Application metadata: required or accepted so real manifests load, unused by the host.
#[allow(dead_code)]
struct Application {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    authors: Vec<String>,
}

/// An application variable: `{ default = "..." }` or `{ required = true }`, optionally secret.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VariableDecl {
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    required: bool,
    // Secrecy only affects logging in Spin; this host never logs variable values anyway.
    #[serde(default)]
    #[allow(dead_code)]
    secret: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Triggers {
    #[serde(default)]
    http: Vec<HttpTrigger>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpTrigger {
    // A trigger's own id only matters to Spin plugins; accepted so real manifests load.
    #[serde(default)]
    #[allow(dead_code)]
    id: Option<String>,
    route: RouteConfig,
    component: String,
}

/// `route = "/path"` or `route = { private = true }` (reachable only by service chaining).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RouteConfig {
    Path(String),
    Private { private: bool },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    source: String,
    // Spin prints it under the route on start; this host keeps its banner to the routes.
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    build: Option<BuildConfig>,
}

/// `[component.X.build]`, as `spin build` reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildConfig {
    pub command: String,
    #[serde(default)]
    pub workdir: Option<String>,
    // Only `spin watch` uses it; accepted so real manifests load.
    #[serde(default)]
    #[allow(dead_code)]
    watch: Vec<String>,
}

/// The one store and the one database this host provides, as Spin does without runtime config.
pub const DEFAULT_LABEL: &str = "default";

/// A validated application, with paths resolved against the manifest's directory.
#[derive(Debug, Clone)]
pub struct App {
    pub dir: PathBuf,
    pub routes: Vec<RouteDecl>,
    pub components: BTreeMap<String, ComponentDecl>,
    variables: BTreeMap<String, (Option<String>, bool)>,
}

/// One `[[trigger.http]]` entry with a public route.
#[derive(Debug, Clone)]
pub struct RouteDecl {
    pub route: String,
    pub component: String,
}

#[derive(Debug, Clone)]
pub struct ComponentDecl {
    pub source: PathBuf,
    pub key_value_stores: Vec<String>,
    pub sqlite_databases: Vec<String>,
    /// Component variable name -> template (`"{{ app_var }}"` etc.).
    pub variables: BTreeMap<String, String>,
    pub allowed_outbound_hosts: Vec<AllowedHost>,
    pub environment: BTreeMap<String, String>,
    pub build: Option<BuildConfig>,
}

impl App {
    /// Reads and validates a manifest file.
    pub fn load(manifest: &Path) -> Result<App> {
        let text = std::fs::read_to_string(manifest)
            .with_context(|| format!("cannot read manifest {}", manifest.display()))?;
        let raw: RawManifest = toml::from_str(&text).with_context(|| {
            format!(
                "{}: not a manifest this host supports (spin_manifest_version 2; component \
                 `source` must be a local path; see crates/host docs)",
                manifest.display()
            )
        })?;
        // `spin.toml` has the parent "", which no command can run in.
        let dir = manifest
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        App::validate(raw, dir).with_context(|| format!("invalid manifest {}", manifest.display()))
    }

    fn validate(raw: RawManifest, dir: PathBuf) -> Result<App> {
        if raw.spin_manifest_version != 2 {
            bail!(
                "spin_manifest_version {} is not supported (only 2)",
                raw.spin_manifest_version
            );
        }
        let variables = validate_variables(raw.variables)?;
        let mut components = BTreeMap::new();
        for (id, c) in raw.component {
            let decl = validate_component(&id, c, &dir, &variables)?;
            components.insert(id, decl);
        }
        let routes = validate_routes(raw.trigger.http, &components)?;
        Ok(App {
            dir,
            routes,
            components,
            variables,
        })
    }

    /// Resolves every component's variables: app defaults, overridden by `SPIN_VARIABLE_<NAME>`
    /// (looked up through `env`), overridden by `overrides`. A required variable with no value
    /// refuses the whole app, as `spin up` does.
    pub fn resolve_variables(
        &self,
        env: impl Fn(&str) -> Option<String>,
        overrides: &HashMap<String, String>,
    ) -> Result<HashMap<String, HashMap<String, String>>> {
        let mut values = HashMap::new();
        for (name, (default, required)) in &self.variables {
            let env_name = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
            let value = overrides
                .get(name)
                .cloned()
                .or_else(|| env(&env_name))
                .or_else(|| default.clone());
            match value {
                Some(v) => {
                    values.insert(name.clone(), v);
                }
                None if *required => bail!(
                    "required variable '{name}' has no value: set {env_name} in the environment"
                ),
                None => {}
            }
        }
        let mut per_component = HashMap::new();
        for (id, c) in &self.components {
            let mut resolved = HashMap::new();
            for (key, template) in &c.variables {
                let value = expand_template(template, &values)
                    .with_context(|| format!("component '{id}' variable '{key}'"))?;
                resolved.insert(key.clone(), value);
            }
            per_component.insert(id.clone(), resolved);
        }
        Ok(per_component)
    }
}

/// Spin's variable names: lowercase ASCII letters, digits and underscores, starting with a letter.
/// Spin's check of a variable name (`spin_expressions::Key::validate`, also what a component's
/// `get` gets back), with its messages, in its order.
pub fn check_variable_name(key: &str) -> Result<(), String> {
    let Some(first) = key.bytes().next() else {
        return Err("must not be empty".to_string());
    };
    if let Some(invalid) = key
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(format!(
            "invalid character {invalid:?}. Variable names may contain only lower-case letters, \
             numbers, and underscores."
        ));
    }
    if !first.is_ascii_lowercase() {
        return Err("must start with a lowercase ASCII letter".to_string());
    }
    if !key.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("must end with a lowercase ASCII letter or digit".to_string());
    }
    if key.contains("__") {
        return Err("must not contain multiple consecutive underscores".to_string());
    }
    Ok(())
}

fn validate_variables(
    raw: BTreeMap<String, VariableDecl>,
) -> Result<BTreeMap<String, (Option<String>, bool)>> {
    let mut out = BTreeMap::new();
    for (name, decl) in raw {
        if let Err(reason) = check_variable_name(&name) {
            bail!("variable name '{name}' is invalid: {reason}");
        }
        match (&decl.default, decl.required) {
            (Some(_), true) => {
                bail!("variable '{name}' cannot be both required and have a default")
            }
            (None, false) => bail!("variable '{name}' must have a default or be required"),
            _ => {}
        }
        out.insert(name, (decl.default, decl.required));
    }
    Ok(out)
}

fn validate_component(
    id: &str,
    c: RawComponent,
    dir: &Path,
    app_variables: &BTreeMap<String, (Option<String>, bool)>,
) -> Result<ComponentDecl> {
    let context = || format!("component '{id}'");
    for label in &c.key_value_stores {
        if label != DEFAULT_LABEL {
            bail!(
                "{}: key-value store '{label}' is not defined (this host only provides \
                 'default'; runtime config is not supported)",
                context()
            );
        }
    }
    for label in &c.sqlite_databases {
        if label != DEFAULT_LABEL {
            bail!(
                "{}: SQLite database '{label}' is not defined (this host only provides \
                 'default'; runtime config is not supported)",
                context()
            );
        }
    }
    for (key, template) in &c.variables {
        if let Err(reason) = check_variable_name(key) {
            bail!("{}: variable name '{key}' is invalid: {reason}", context());
        }
        for reference in template_references(template)? {
            if !app_variables.contains_key(reference) {
                bail!(
                    "{}: variable '{key}' refers to '{reference}', which is not in [variables]",
                    context()
                );
            }
        }
    }
    let allowed_outbound_hosts = c
        .allowed_outbound_hosts
        .iter()
        .map(|entry| AllowedHost::parse(entry))
        .collect::<Result<Vec<_>>>()
        .with_context(context)?;
    Ok(ComponentDecl {
        source: dir.join(&c.source),
        key_value_stores: c.key_value_stores,
        sqlite_databases: c.sqlite_databases,
        variables: c.variables,
        allowed_outbound_hosts,
        environment: c.environment,
        build: c.build,
    })
}

fn validate_routes(
    triggers: Vec<HttpTrigger>,
    components: &BTreeMap<String, ComponentDecl>,
) -> Result<Vec<RouteDecl>> {
    let mut routes = Vec::new();
    for t in triggers {
        if !components.contains_key(&t.component) {
            bail!(
                "[[trigger.http]] refers to unknown component '{}'",
                t.component
            );
        }
        match t.route {
            RouteConfig::Path(route) => {
                crate::routes::check_route_syntax(&route)?;
                routes.push(RouteDecl {
                    route,
                    component: t.component,
                });
            }
            // A private component is only reachable by service chaining, which this host
            // does not offer: it simply gets no route, as under Spin.
            RouteConfig::Private { private: true } => {}
            RouteConfig::Private { private: false } => bail!(
                "component '{}': route must be a string or {{ private = true }}",
                t.component
            ),
        }
    }
    Ok(routes)
}

/// The app variable names a template refers to, e.g. `"Bearer {{ token }}"` -> `["token"]`.
fn template_references(template: &str) -> Result<Vec<&str>> {
    let mut refs = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .with_context(|| format!("unterminated '{{{{' in template {template:?}"))?;
        let name = after[..end].trim();
        if check_variable_name(name).is_err() {
            bail!("invalid variable reference '{name}' in template {template:?}");
        }
        refs.push(name);
        rest = &after[end + 2..];
    }
    Ok(refs)
}

/// Expands `{{ name }}` references in a template against resolved app variables.
fn expand_template(template: &str, values: &HashMap<String, String>) -> Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .with_context(|| format!("unterminated '{{{{' in template {template:?}"))?;
        let name = after[..end].trim();
        let value = values
            .get(name)
            .with_context(|| format!("variable '{name}' has no value"))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_and_list_references() {
        let values = HashMap::from([("who".to_string(), "world".to_string())]);
        assert_eq!(
            expand_template("hello {{ who }}!{{who}}", &values).unwrap(),
            "hello world!world"
        );
        assert_eq!(template_references("a {{ x_1 }} b").unwrap(), vec!["x_1"]);
        assert!(template_references("{{ Bad }}").is_err());
        assert!(template_references("{{ open").is_err());
    }

    #[test]
    fn variable_names_are_checked_as_spin_does() {
        assert_eq!(check_variable_name("api_token2"), Ok(()));
        assert_eq!(check_variable_name(""), Err("must not be empty".into()));
        assert_eq!(
            check_variable_name("Token"),
            Err(
                "invalid character 'T'. Variable names may contain only lower-case letters, \
                 numbers, and underscores."
                    .into()
            )
        );
        assert_eq!(
            check_variable_name("2fa"),
            Err("must start with a lowercase ASCII letter".into())
        );
        assert_eq!(
            check_variable_name("a_"),
            Err("must end with a lowercase ASCII letter or digit".into())
        );
        assert_eq!(
            check_variable_name("a__b"),
            Err("must not contain multiple consecutive underscores".into())
        );
    }
}
