// A deletion log entry, refetchable through node(id:) (it changes when restored or purged), in
// the log's @connection.
import { graphql } from 'relay-runtime';

export const DeletionLogFragment = graphql`
  fragment DeletionRow_query on Query
  @argumentDefinitions(count: { type: "Int", defaultValue: 20 }, cursor: { type: "String" })
  @refetchable(queryName: "DeletionLogPaginationQuery") {
    deletions(first: $count, after: $cursor) @connection(key: "DeletionRow_deletions") {
      edges {
        node {
          id
          ...DeletionRow_deletion
        }
      }
    }
  }
`;

export const DeletionRowFragment = graphql`
  fragment DeletionRow_deletion on Deletion @refetchable(queryName: "DeletionRowRefetchQuery") {
    id
    entity
    entityId
    reason
    deletedAt
    cascadeCount
    restoredAt
    purgedAt
  }
`;
