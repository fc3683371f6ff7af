//! Root lookups by id (`node`, `nodes`, `user`, `attachment`) cost one statement per entity
//! for the whole operation: the first of them to run reads every id the operation's root
//! asks for into the request's loaders, and the others find their rows in the cache.
//! Without this the count would depend on timing (whether every field reached the loaders
//! within their 1 ms batching window).
//!
//! Only live rows are read ahead, the scope every one of these fields reads by default; the
//! resolvers still apply every visibility check to what they find. A field whose ids do not
//! all decode, or that asks for too many, is left to its resolver, which refuses it.

use async_graphql::Context;
use async_graphql::parser::types::{Field, Selection};

use super::ContextExt;
use super::loaders::{AttachmentKey, Loaders, UserKey};
use crate::error::Result;
use crate::ids::{self, Kind};
use crate::service::nodes::MAX_NODE_IDS;
use crate::soft_delete::Scope;

/// The most ids read ahead; a document asking for more is still answered, the rest by the
/// loaders' own batching.
const MAX_READ_AHEAD: usize = 500;

/// The request's loaders, once every id the operation's root looks up is in their cache.
pub async fn loaders<'a>(ctx: &'a Context<'_>) -> Result<&'a Loaders> {
    let request = ctx.request()?;
    let loaders = &request.loaders;
    request
        .roots_read
        .get_or_try_init(|| read_ahead(ctx, loaders))
        .await?;
    Ok(loaders)
}

async fn read_ahead(ctx: &Context<'_>, loaders: &Loaders) -> Result<()> {
    let (users, attachments) = root_ids(ctx);
    if !users.is_empty() {
        loaders.load_many(users).await?;
    }
    if !attachments.is_empty() {
        loaders.load_many(attachments).await?;
    }
    Ok(())
}

/// The live users and attachments the operation's root fields name by id.
fn root_ids(ctx: &Context<'_>) -> (Vec<UserKey>, Vec<AttachmentKey>) {
    let (mut users, mut attachments) = (Vec::new(), Vec::new());
    // `query_env` is async-graphql's (hidden but public) view of the running operation.
    let env = ctx.query_env;
    for item in &env.operation.node.selection_set.node.items {
        let Selection::Field(field) = &item.node else {
            continue;
        };
        let field = &field.node;
        let ids = match field.name.node.as_str() {
            "node" => argument(ctx, field, "id"),
            "nodes" => argument(ctx, field, "ids"),
            "user" | "attachment" if !wants_deleted(ctx, field) => argument(ctx, field, "id"),
            _ => continue,
        };
        // A field its resolver will refuse (too many ids, one that is not ours) reads nothing.
        let Ok(decoded) = ids
            .iter()
            .map(|id| ids::decode_any(id))
            .collect::<Result<Vec<_>>>()
        else {
            continue;
        };
        if decoded.len() > MAX_NODE_IDS {
            continue;
        }
        for (kind, id) in decoded {
            match kind {
                Kind::User => users.push(UserKey(id, Scope::Live)),
                Kind::Attachment => attachments.push(AttachmentKey(id, Scope::Live)),
                Kind::Deletion => {}
            }
        }
        if users.len() + attachments.len() >= MAX_READ_AHEAD {
            break;
        }
    }
    (users, attachments)
}

/// The string values of argument `name` (one id, or a list of them), variables resolved.
fn argument(ctx: &Context<'_>, field: &Field, name: &str) -> Vec<String> {
    use async_graphql::Value;
    match value(ctx, field, name) {
        Some(Value::String(id)) => vec![id],
        Some(Value::List(items)) => items
            .into_iter()
            .filter_map(|item| match item {
                Value::String(id) => Some(id),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `field` asks for deleted rows (`includeDeleted: true`).
fn wants_deleted(ctx: &Context<'_>, field: &Field) -> bool {
    matches!(
        value(ctx, field, "includeDeleted"),
        Some(async_graphql::Value::Boolean(true))
    )
}

fn value(ctx: &Context<'_>, field: &Field, name: &str) -> Option<async_graphql::Value> {
    let (_, value) = field.arguments.iter().find(|(n, _)| n.node == name)?;
    let variables = &ctx.query_env.variables;
    value
        .node
        .clone()
        .into_const_with(|var| variables.get(&var).cloned().ok_or(()))
        .ok()
}
