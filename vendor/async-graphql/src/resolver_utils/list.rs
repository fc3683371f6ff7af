use crate::{
    ContextSelectionSet, OutputType, Positioned, ServerResult, Value, extensions::ResolveInfo,
    parser::types::Field,
};

/// KEEPSAKE PATCH: the items' values in order; when items failed (non-null ones), the first
/// failure fails the list and each other one is reported once.
fn collect_items(ctx: &ContextSelectionSet<'_>, items: Vec<ServerResult<Value>>) -> ServerResult<Value> {
    let mut values = Vec::with_capacity(items.len());
    let mut failed = None;
    for item in items {
        match item {
            Ok(value) => values.push(value),
            Err(err) if failed.is_none() => failed = Some(err),
            Err(err) => ctx.add_error(err),
        }
    }
    match failed {
        Some(err) => Err(err),
        None => Ok(Value::List(values)),
    }
}

/// Resolve an list by executing each of the items concurrently.
///
/// KEEPSAKE PATCH (docs/async-graphql-patch.md): an item that fails is `null` beside its
/// error when the list's items may be null; when they may not, the whole list fails and its
/// field decides in turn (the spec's null propagation). An error keeps the path of the field
/// that failed.
pub async fn resolve_list<'a, T: OutputType + 'a>(
    ctx: &ContextSelectionSet<'a>,
    field: &Positioned<Field>,
    iter: impl IntoIterator<Item = T>,
    len: Option<usize>,
) -> ServerResult<Value> {
    let extensions = &ctx.query_env.extensions;
    let nullable = !T::qualified_type_name().ends_with('!');
    if !extensions.is_empty() {
        let mut futures = len.map(Vec::with_capacity).unwrap_or_default();
        for (idx, item) in iter.into_iter().enumerate() {
            futures.push({
                let ctx = ctx.clone();
                async move {
                    let ctx_idx = ctx.with_index(idx);
                    let extensions = &ctx.query_env.extensions;

                    let resolve_info = ResolveInfo {
                        path_node: ctx_idx.path_node.as_ref().unwrap(),
                        parent_type: &Vec::<T>::type_name(),
                        return_type: &T::qualified_type_name(),
                        name: field.node.name.node.as_str(),
                        alias: field.node.alias.as_ref().map(|alias| alias.node.as_str()),
                        is_for_introspection: ctx_idx.is_for_introspection,
                        field: &field.node,
                    };
                    let resolve_fut = async {
                        match OutputType::resolve(&item, &ctx_idx, field).await {
                            Ok(value) => Ok(Some(value)),
                            Err(err) if nullable => {
                                ctx_idx.add_error(ctx_idx.set_error_path(err));
                                Ok(Some(Value::Null))
                            }
                            Err(err) => Err(ctx_idx.set_error_path(err)),
                        }
                    };
                    futures_util::pin_mut!(resolve_fut);
                    extensions
                        .resolve(resolve_info, &mut resolve_fut)
                        .await
                        .map(|value| value.expect("You definitely encountered a bug!"))
                }
            });
        }
        collect_items(ctx, futures_util::future::join_all(futures).await)
    } else {
        let mut futures = len.map(Vec::with_capacity).unwrap_or_default();
        for (idx, item) in iter.into_iter().enumerate() {
            let ctx_idx = ctx.with_index(idx);
            futures.push(async move {
                match OutputType::resolve(&item, &ctx_idx, field).await {
                    Ok(value) => Ok(value),
                    Err(err) if nullable => {
                        ctx_idx.add_error(ctx_idx.set_error_path(err));
                        Ok(Value::Null)
                    }
                    Err(err) => Err(ctx_idx.set_error_path(err)),
                }
            });
        }
        collect_items(ctx, futures_util::future::join_all(futures).await)
    }
}
