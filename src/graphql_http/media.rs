//! The two media types a GraphQL response is sent in.

/// The media types a GraphQL response is sent as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    /// `application/json`: the legacy type; every well-formed request answers 200.
    Json,
    /// `application/graphql-response+json`: a document refused before execution answers 400.
    GraphQLResponseJson,
}

impl MediaType {
    /// The type without parameters.
    pub fn essence(self) -> &'static str {
        match self {
            MediaType::Json => "application/json",
            MediaType::GraphQLResponseJson => "application/graphql-response+json",
        }
    }

    /// The `Content-Type` of a response in this type.
    pub fn content_type(self) -> &'static str {
        match self {
            MediaType::Json => "application/json; charset=utf-8",
            MediaType::GraphQLResponseJson => "application/graphql-response+json; charset=utf-8",
        }
    }
}
