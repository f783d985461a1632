//! Rust paths of proto messages, relative to the module of the package being generated, in
//! the layout prost-build uses (one module per package segment, a snake_case module per
//! message holding its nested types), with extern paths taking precedence.

use crate::ident;
use prost_reflect::DescriptorPool;

/// Resolves proto type names to Rust paths.
#[derive(Debug, Clone)]
pub(crate) struct Resolver {
    /// `(".proto.prefix", "::rust::path")`, longest prefix wins.
    extern_paths: Vec<(String, String)>,
}

impl Resolver {
    pub(crate) fn new(extern_paths: &[(String, String)]) -> Self {
        let mut extern_paths: Vec<(String, String)> = extern_paths
            .iter()
            .map(|(proto, rust)| {
                let proto = if proto.starts_with('.') {
                    proto.clone()
                } else {
                    format!(".{proto}")
                };
                (proto, rust.clone())
            })
            .collect();
        extern_paths.sort_by_key(|(proto, _)| std::cmp::Reverse(proto.len()));
        Self { extern_paths }
    }

    /// The Rust path, as source text, of message or enum `full_name` (no leading dot) seen
    /// from the module of package `from_package`.
    pub(crate) fn message_path(
        &self,
        pool: &DescriptorPool,
        from_package: &str,
        full_name: &str,
    ) -> String {
        let dotted = format!(".{full_name}");
        for (proto, rust) in &self.extern_paths {
            if dotted == *proto {
                return rust.clone();
            }
            if let Some(rest) = dotted
                .strip_prefix(proto.as_str())
                .and_then(|r| r.strip_prefix('.'))
            {
                let mut segments: Vec<&str> = rest.split('.').collect();
                let last = segments.pop().unwrap_or_default();
                let mut path = rust.clone();
                for module in segments {
                    path.push_str("::");
                    path.push_str(&ident::snake(module));
                }
                path.push_str("::");
                path.push_str(&ident::camel(last));
                return path;
            }
        }

        let package = pool
            .get_message_by_name(full_name)
            .map(|m| m.package_name().to_owned())
            .or_else(|| {
                pool.get_enum_by_name(full_name)
                    .map(|e| e.package_name().to_owned())
            });
        let (package, nesting) = match package {
            Some(package) => {
                let local = full_name
                    .strip_prefix(&package)
                    .map(|s| s.trim_start_matches('.'))
                    .unwrap_or(full_name);
                (
                    package,
                    local.split('.').map(str::to_owned).collect::<Vec<_>>(),
                )
            }
            None => (String::new(), vec![full_name.to_owned()]),
        };

        let from: Vec<&str> = split_package(from_package);
        let to: Vec<&str> = split_package(&package);
        let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
        let mut segments: Vec<String> = Vec::new();
        segments.extend(std::iter::repeat_n("super".to_owned(), from.len() - common));
        segments.extend(to[common..].iter().map(|s| ident::snake(s)));
        let (last, parents) = nesting
            .split_last()
            .expect("a type name has at least one segment");
        segments.extend(parents.iter().map(|s| ident::snake(s)));
        segments.push(ident::camel(last));
        segments.join("::")
    }
}

fn split_package(package: &str) -> Vec<&str> {
    if package.is_empty() {
        Vec::new()
    } else {
        package.split('.').collect()
    }
}
