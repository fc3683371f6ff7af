// The deletion log paged both ways.
import { graphql } from 'relay-runtime';

export const DeletionsFragment = graphql`
  fragment Deletions_query on Query
  @argumentDefinitions(
    first: { type: "Int" }
    after: { type: "String" }
    last: { type: "Int", defaultValue: 20 }
    before: { type: "String" }
  )
  @refetchable(queryName: "DeletionsPaginationQuery") {
    deletions(first: $first, after: $after, last: $last, before: $before) @connection(key: "Deletions_deletions") {
      edges {
        node {
          id
          reason
        }
      }
    }
  }
`;
