//! Wire formats, parsed apart from the rules that use them: PostgreSQL's binary arrays
//! (`pg_array`) and the HTTP headers of attachment downloads (`http`).

pub mod http;
pub mod pg_array;
