// The users list paged both ways (first/after and last/before), as a bidirectional
// usePaginationFragment needs: loadNext and loadPrevious.
import { graphql } from 'relay-runtime';

export const UsersFragment = graphql`
  fragment Users_query on Query
  @argumentDefinitions(
    first: { type: "Int" }
    after: { type: "String" }
    last: { type: "Int", defaultValue: 20 }
    before: { type: "String" }
  )
  @refetchable(queryName: "UsersPaginationQuery") {
    users(first: $first, after: $after, last: $last, before: $before) @connection(key: "Users_users") {
      edges {
        node {
          id
          name
        }
      }
    }
  }
`;
