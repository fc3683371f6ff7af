// The users list: a @connection paged with usePaginationFragment (first/after), refetchable on Query.
import { graphql } from 'relay-runtime';

export const UserListQuery = graphql`
  query UserListQuery {
    ...UserList_query
  }
`;

export const UserListFragment = graphql`
  fragment UserList_query on Query
  @argumentDefinitions(count: { type: "Int", defaultValue: 20 }, cursor: { type: "String" })
  @refetchable(queryName: "UserListPaginationQuery") {
    users(first: $count, after: $cursor) @connection(key: "UserList_users") {
      totalCount
      edges {
        node {
          id
          ...UserCard_user
        }
      }
    }
  }
`;
