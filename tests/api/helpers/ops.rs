//! What a client does, once for every test: the GraphQL documents many test files send
//! (create, delete, restore, read with deleted rows, the deletion log, purge) and a typed
//! helper for each on [`Client`], the admin or a test user talking to a [`TestApp`].
//!
//! Each operation comes twice: `delete_user(..)` asserts the server answered without
//! errors and returns the field's value; `try_delete_user(..)` returns the whole body, for
//! tests that expect a refusal. A document only one test sends stays inline in that test.

use serde_json::{Value, json};

use super::{TestApp, TestUser, assert_ok, data};

/// Creates a user; `createUser { id email }`.
pub const CREATE_USER: &str =
    "mutation($input: CreateUserInput!) { createUser(input: $input) { id email } }";
/// Records an attachment; `createAttachment { id }`.
pub const CREATE_ATTACHMENT: &str =
    "mutation($input: CreateAttachmentInput!) { createAttachment(input: $input) { id } }";

/// The fields a delete mutation returns of its `Deletion`.
macro_rules! deleted_fields {
    () => {
        "{ id entity entityId actor { id } reason deletedAt cascadeCount rowCount restoredAt restoredBy { id } }"
    };
}
/// Deletes user `$id` with its live attachments, giving `$reason`.
pub const DELETE_USER: &str = concat!(
    "mutation($id: ID!, $reason: String) { deleteUser(id: $id, reason: $reason) ",
    deleted_fields!(),
    " }"
);
/// Deletes attachment `$id`, giving `$reason`.
pub const DELETE_ATTACHMENT: &str = concat!(
    "mutation($id: ID!, $reason: String) { deleteAttachment(id: $id, reason: $reason) ",
    deleted_fields!(),
    " }"
);
/// Deletes attachments `$ids` as one deletion, giving `$reason`.
pub const DELETE_ATTACHMENTS: &str = concat!(
    "mutation($ids: [ID!]!, $reason: String) { deleteAttachments(ids: $ids, reason: $reason) ",
    deleted_fields!(),
    " }"
);
/// Undoes deletion `$d`, giving `$reason`.
pub const RESTORE: &str = "mutation($d: ID!, $reason: String) { restore(deletionId: $d, reason: $reason) { id restoredAt restoredBy { id } restoreReason } }";
/// Undoes the deletion in force on user `$id`.
pub const RESTORE_USER: &str = "mutation($id: ID!, $reason: String) { restoreUser(id: $id, reason: $reason) { id deletedAt } }";
/// Undoes the deletion in force on attachment `$id`.
pub const RESTORE_ATTACHMENT: &str = "mutation($id: ID!, $reason: String) { restoreAttachment(id: $id, reason: $reason) { id deletedAt } }";
/// One deletion log entry, every field a test looks at.
pub const DELETION: &str = "query($d: ID!) { deletion(id: $d) { id entity entityId deletedAt cascadeCount rowCount restoredAt restoredBy { id } restoreReason purgeStartedAt purgedAt } }";
/// How many entries of the deletion log the viewer may read.
pub const LOG_SIZE: &str = "{ deletions { totalCount } }";
/// User `$id`, deleted or not.
pub const USER_WITH_DELETED: &str = "query($id: ID!) { user(id: $id, includeDeleted: true) { id deletedAt deletion { id restoredAt } } }";
/// Attachment `$id`, deleted or not.
pub const ATTACHMENT_WITH_DELETED: &str = "query($id: ID!) { attachment(id: $id, includeDeleted: true) { id deletedAt deletion { id restoredAt } } }";
/// User `$id` as every read sees it by default: null unless live.
pub const LIVE_USER: &str = "query($id: ID!) { user(id: $id) { id deletedAt } }";
/// Attachment `$id` as every read sees it by default: null unless live.
pub const LIVE_ATTACHMENT: &str = "query($id: ID!) { attachment(id: $id) { id deletedAt } }";
/// The live attachments of owner `$o`, ids only.
pub const LIVE_ATTACHMENTS_OF: &str =
    "query($o: ID!) { attachments(ownerId: $o, first: 100) { totalCount nodes { id } } }";
/// Every attachment of owner `$o`, deleted ones too.
pub const ATTACHMENTS_WITH_DELETED_OF: &str = "query($o: ID!) { attachments(ownerId: $o, includeDeleted: true, first: 100) { totalCount nodes { id deletedAt deletion { id } } } }";
/// Purges (or, with `$dryRun`, counts) what was deleted longer than `$olderThan` ago.
pub const PURGE: &str = "mutation($olderThan: String!, $dryRun: Boolean!) { purgeDeleted(olderThan: $olderThan, dryRun: $dryRun) { users attachments archived dryRun } }";

/// Someone sending requests to a [`TestApp`]: the admin ([`TestApp::admin`]) or a test user
/// ([`TestApp::by`]).
#[derive(Clone, Copy)]
pub struct Client<'a> {
    app: &'a TestApp,
    token: &'a str,
}

impl TestApp {
    /// The first admin, as a client.
    pub fn admin(&self) -> Client<'_> {
        Client {
            app: self,
            token: &self.admin_token,
        }
    }

    /// `user`, as a client.
    pub fn by<'a>(&'a self, user: &'a TestUser) -> Client<'a> {
        Client {
            app: self,
            token: &user.token,
        }
    }
}

/// The `id` of a node (a `Deletion`, a user, …) as a string.
#[track_caller]
pub fn id_of(node: &Value) -> String {
    node["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {node}"))
        .to_owned()
}

impl Client<'_> {
    /// Sends `query` with `variables`; returns the whole body.
    pub async fn send(self, query: &str, variables: Value) -> Value {
        self.app.graphql(Some(self.token), query, variables).await
    }

    /// Sends `query`, asserts no errors, returns `data.<field>`.
    pub async fn ok(self, query: &str, variables: Value, field: &str) -> Value {
        let body = self.send(query, variables).await;
        assert_ok(&body);
        data(&body)[field].clone()
    }

    /// `createUser` with `input`; the whole body.
    pub async fn try_create_user(self, input: Value) -> Value {
        self.send(CREATE_USER, json!({ "input": input })).await
    }

    /// `createAttachment` with `input`; the whole body.
    pub async fn try_create_attachment(self, input: Value) -> Value {
        self.send(CREATE_ATTACHMENT, json!({ "input": input }))
            .await
    }

    /// `deleteUser`; the whole body.
    pub async fn try_delete_user(self, id: &str, reason: Option<&str>) -> Value {
        self.send(DELETE_USER, json!({ "id": id, "reason": reason }))
            .await
    }

    /// Deletes user `id` (and its live attachments); returns the `Deletion`.
    pub async fn delete_user(self, id: &str, reason: Option<&str>) -> Value {
        let body = self.try_delete_user(id, reason).await;
        assert_ok(&body);
        data(&body)["deleteUser"].clone()
    }

    /// `deleteAttachment`; the whole body.
    pub async fn try_delete_attachment(self, id: &str, reason: Option<&str>) -> Value {
        self.send(DELETE_ATTACHMENT, json!({ "id": id, "reason": reason }))
            .await
    }

    /// Deletes attachment `id`; returns the `Deletion`.
    pub async fn delete_attachment(self, id: &str, reason: Option<&str>) -> Value {
        let body = self.try_delete_attachment(id, reason).await;
        assert_ok(&body);
        data(&body)["deleteAttachment"].clone()
    }

    /// `deleteAttachments`; the whole body.
    pub async fn try_delete_attachments<S: AsRef<str>>(
        &self,
        ids: &[S],
        reason: Option<&str>,
    ) -> Value {
        let ids: Vec<&str> = ids.iter().map(AsRef::as_ref).collect();
        self.send(DELETE_ATTACHMENTS, json!({ "ids": ids, "reason": reason }))
            .await
    }

    /// Deletes attachments `ids` as one deletion; returns the `Deletion`.
    pub async fn delete_attachments<S: AsRef<str>>(
        &self,
        ids: &[S],
        reason: Option<&str>,
    ) -> Value {
        let body = self.try_delete_attachments(ids, reason).await;
        assert_ok(&body);
        data(&body)["deleteAttachments"].clone()
    }

    /// `restore`; the whole body.
    pub async fn try_restore(self, deletion: &str, reason: Option<&str>) -> Value {
        self.send(RESTORE, json!({ "d": deletion, "reason": reason }))
            .await
    }

    /// Undoes deletion `deletion`; returns the `Deletion`.
    pub async fn restore(self, deletion: &str, reason: Option<&str>) -> Value {
        let body = self.try_restore(deletion, reason).await;
        assert_ok(&body);
        data(&body)["restore"].clone()
    }

    /// `restoreUser`; the whole body.
    pub async fn try_restore_user(self, id: &str, reason: Option<&str>) -> Value {
        self.send(RESTORE_USER, json!({ "id": id, "reason": reason }))
            .await
    }

    /// Undoes the deletion in force on user `id`; returns the user.
    pub async fn restore_user(self, id: &str, reason: Option<&str>) -> Value {
        let body = self.try_restore_user(id, reason).await;
        assert_ok(&body);
        data(&body)["restoreUser"].clone()
    }

    /// `restoreAttachment`; the whole body.
    pub async fn try_restore_attachment(self, id: &str, reason: Option<&str>) -> Value {
        self.send(RESTORE_ATTACHMENT, json!({ "id": id, "reason": reason }))
            .await
    }

    /// Undoes the deletion in force on attachment `id`; returns the attachment.
    pub async fn restore_attachment(self, id: &str, reason: Option<&str>) -> Value {
        let body = self.try_restore_attachment(id, reason).await;
        assert_ok(&body);
        data(&body)["restoreAttachment"].clone()
    }

    /// Deletion log entry `id`: `null` when the viewer may not see it.
    pub async fn deletion(self, id: &str) -> Value {
        self.ok(DELETION, json!({ "d": id }), "deletion").await
    }

    /// How many entries of the deletion log this client reads.
    pub async fn log_size(self) -> i64 {
        let body = self.send(LOG_SIZE, json!({})).await;
        assert_ok(&body);
        data(&body)["deletions"]["totalCount"]
            .as_i64()
            .unwrap_or_else(|| panic!("no totalCount: {body}"))
    }

    /// User `id` with deleted rows: `{ id deletedAt deletion { id restoredAt } }`, or `null`
    /// once it is gone for good.
    pub async fn user_with_deleted(self, id: &str) -> Value {
        self.ok(USER_WITH_DELETED, json!({ "id": id }), "user")
            .await
    }

    /// Attachment `id` with deleted rows: `{ id deletedAt deletion { id restoredAt } }`, or
    /// `null` once it is gone for good.
    pub async fn attachment_with_deleted(self, id: &str) -> Value {
        self.ok(ATTACHMENT_WITH_DELETED, json!({ "id": id }), "attachment")
            .await
    }

    /// Whether user `id` is live, as reads see it by default.
    pub async fn user_is_live(self, id: &str) -> bool {
        !self
            .ok(LIVE_USER, json!({ "id": id }), "user")
            .await
            .is_null()
    }

    /// Whether attachment `id` is live, as reads see it by default.
    pub async fn attachment_is_live(self, id: &str) -> bool {
        !self
            .ok(LIVE_ATTACHMENT, json!({ "id": id }), "attachment")
            .await
            .is_null()
    }

    /// The ids of `owner`'s live attachments, as listed by default.
    pub async fn live_attachments(self, owner: &str) -> Vec<String> {
        self.attachments_page(LIVE_ATTACHMENTS_OF, owner)
            .await
            .iter()
            .map(id_of)
            .collect()
    }

    /// Every attachment of `owner`, deleted ones too: `{ id deletedAt deletion { id } }` each.
    pub async fn attachments_with_deleted(self, owner: &str) -> Vec<Value> {
        self.attachments_page(ATTACHMENTS_WITH_DELETED_OF, owner)
            .await
    }

    /// The nodes of an `attachments(ownerId:)` page that must hold them all.
    async fn attachments_page(self, query: &str, owner: &str) -> Vec<Value> {
        let body = self.send(query, json!({ "o": owner })).await;
        assert_ok(&body);
        let page = &data(&body)["attachments"];
        let nodes = page["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("no nodes: {body}"));
        assert_eq!(
            page["totalCount"],
            nodes.len(),
            "one page holds them all: {body}"
        );
        nodes.clone()
    }

    /// `purgeDeleted`; the whole body.
    pub async fn try_purge(self, older_than: &str, dry_run: bool) -> Value {
        self.send(PURGE, json!({ "olderThan": older_than, "dryRun": dry_run }))
            .await
    }

    /// Purges what was deleted longer than `older_than` ago (only counts it on a dry run);
    /// returns the report `{ users attachments archived dryRun }`.
    pub async fn purge(self, older_than: &str, dry_run: bool) -> Value {
        let body = self.try_purge(older_than, dry_run).await;
        assert_ok(&body);
        data(&body)["purgeDeleted"].clone()
    }
}
