// A user's attachments paged both ways, the user refetched through node(id:).
import { graphql } from 'relay-runtime';

export const UserFilesFragment = graphql`
  fragment UserFiles_user on User
  @argumentDefinitions(
    first: { type: "Int" }
    after: { type: "String" }
    last: { type: "Int", defaultValue: 5 }
    before: { type: "String" }
  )
  @refetchable(queryName: "UserFilesPaginationQuery") {
    id
    attachments(first: $first, after: $after, last: $last, before: $before) @connection(key: "UserFiles_attachments") {
      totalCount
      edges {
        node {
          id
        }
      }
    }
  }
`;
