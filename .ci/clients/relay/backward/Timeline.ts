// Connections paged both ways (first/after and last/before), as a bidirectional
// usePaginationFragment needs: users, a user's attachments and the deletion log.
import { graphql } from 'relay-runtime';

export const TimelineFragment = graphql`
  fragment Timeline_query on Query
  @argumentDefinitions(
    first: { type: "Int" }
    after: { type: "String" }
    last: { type: "Int", defaultValue: 20 }
    before: { type: "String" }
  )
  @refetchable(queryName: "TimelinePaginationQuery") {
    users(first: $first, after: $after, last: $last, before: $before) @connection(key: "Timeline_users") {
      edges {
        node {
          id
          ...TimelineUser_user
        }
      }
    }
    deletions(first: $first, after: $after, last: $last, before: $before) @connection(key: "Timeline_deletions") {
      edges {
        node {
          id
        }
      }
    }
  }
`;

export const TimelineUserFragment = graphql`
  fragment TimelineUser_user on User
  @argumentDefinitions(
    first: { type: "Int" }
    after: { type: "String" }
    last: { type: "Int", defaultValue: 10 }
    before: { type: "String" }
  )
  @refetchable(queryName: "TimelineUserPaginationQuery") {
    id
    attachments(first: $first, after: $after, last: $last, before: $before) @connection(key: "TimelineUser_attachments") {
      edges {
        node {
          id
        }
      }
    }
  }
`;
