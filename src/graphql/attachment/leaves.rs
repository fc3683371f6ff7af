//! The fields of an attachment written straight into the response, without a resolver.

use async_graphql::{ScalarType, Value};

use crate::entity::attachment::Column as C;
use crate::graphql::leaves::{Leaves, write_leaf_value};
use crate::graphql::types::Attachment;
use crate::ids::{self, Kind};
use crate::json;

impl Leaves for Attachment {
    /// Each arm checks its own column (not `column_of`'s table, which decided what to
    /// read), so a wrong entry there is an error, never a default written as a value.
    fn leaf(&self, name: &str) -> Option<Value> {
        let (row, has) = (&self.row, |column| self.columns.has(column));
        Some(match name {
            "id" => Value::String(ids::encode(Kind::Attachment, row.id)),
            "filename" if has(C::Filename) => Value::String(row.filename.clone()),
            "contentType" if has(C::ContentType) => Value::String(row.content_type.clone()),
            "sizeBytes" if has(C::SizeBytes) => Value::from(row.size_bytes),
            "sha256" if has(C::Sha256) => row
                .sha256
                .as_ref()
                .map_or(Value::Null, |s| Value::String(s.clone())),
            "createdAt" if has(C::CreatedAt) => row.created_at.to_value(),
            "deletedAt" if has(C::DeletedAt) => row
                .deleted_at
                .as_ref()
                .map_or(Value::Null, ScalarType::to_value),
            _ => return None,
        })
    }

    /// The yardstick's fields, written without a `Value` or a `String` between.
    fn write_leaf(&self, name: &str, out: &mut Vec<u8>) -> bool {
        let (row, has) = (&self.row, |column| self.columns.has(column));
        match name {
            "id" => {
                out.push(b'"');
                ids::encode_into(Kind::Attachment, row.id, out);
                out.push(b'"');
            }
            "filename" if has(C::Filename) => return json::write_str(&row.filename, out).is_ok(),
            "sizeBytes" if has(C::SizeBytes) => {
                out.extend_from_slice(itoa::Buffer::new().format(row.size_bytes).as_bytes())
            }
            _ => return write_leaf_value(self.leaf(name), out),
        }
        true
    }
}
