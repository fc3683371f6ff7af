//! The `Upload` scalar of the GraphQL multipart request spec, read without panicking.
//!
//! async-graphql's own `Upload` unwraps the number after `#__graphql_file__:` and indexes the
//! request's files with it, so a plain JSON request whose variables hold
//! `"#__graphql_file__:x"` (or a number past the files sent) panics its handler. This scalar
//! has the same name and wire form, and answers `BAD_USER_INPUT` instead.

use std::borrow::Cow;
use std::io::Seek as _;
use std::sync::Arc;

use async_graphql::registry::{MetaType, MetaTypeId, Registry};
use async_graphql::{Context, InputType, InputValueError, InputValueResult, UploadValue, Value};

use crate::error::{Error, Result};

/// What the multipart request's `map` puts in place of a file.
const PREFIX: &str = "#__graphql_file__:";

/// A file of a multipart request, by its position among the request's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upload(usize);

impl Upload {
    /// The file, read from its start (a file named twice in one request is read twice).
    pub fn value(&self, ctx: &Context<'_>) -> Result<UploadValue> {
        let Some(upload) = ctx.query_env.uploads.get(self.0) else {
            return Err(not_sent());
        };
        let mut value = upload
            .try_clone()
            .map_err(|err| Error::bad_input(format!("file: the upload cannot be read ({err})")))?;
        value
            .content
            .rewind()
            .map_err(|err| Error::bad_input(format!("file: the upload cannot be read ({err})")))?;
        Ok(value)
    }
}

fn not_sent() -> Error {
    Error::bad_input(
        "file: no file was sent for it; send the request as multipart/form-data (the GraphQL \
         multipart request spec) with the file mapped to this variable",
    )
}

impl InputType for Upload {
    type RawValueType = Self;

    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed("Upload")
    }

    fn create_type_info(registry: &mut Registry) -> String {
        registry.create_input_type::<Self, _>(MetaTypeId::Scalar, |_| MetaType::Scalar {
            name: Self::type_name().to_string(),
            description: Some(super::scalars::UPLOAD.to_string()),
            is_valid: Some(Arc::new(|value| matches!(value, Value::String(_)))),
            visible: None,
            inaccessible: false,
            tags: Default::default(),
            specified_by_url: Some(
                "https://github.com/jaydenseric/graphql-multipart-request-spec".to_string(),
            ),
            directive_invocations: Default::default(),
            requires_scopes: Default::default(),
        })
    }

    fn parse(value: Option<Value>) -> InputValueResult<Self> {
        let value = value.unwrap_or_default();
        if let Value::String(text) = &value
            && let Some(index) = text.strip_prefix(PREFIX)
        {
            return index.parse::<usize>().map(Upload).map_err(|_| {
                InputValueError::custom(
                    "not a file of this request; send the file as a part of a \
                     multipart/form-data request and map it to this variable",
                )
            });
        }
        Err(InputValueError::custom(
            "a file is sent as a part of a multipart/form-data request (the GraphQL multipart \
             request spec), mapped to this variable; it cannot be written in the query or in \
             JSON variables",
        ))
    }

    fn to_value(&self) -> Value {
        Value::Null
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }
}
