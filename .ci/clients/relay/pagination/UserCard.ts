// One user with their attachments: refetchable through node(id:), attachments a @connection.
import { graphql } from 'relay-runtime';

export const UserCardFragment = graphql`
  fragment UserCard_user on User
  @argumentDefinitions(count: { type: "Int", defaultValue: 10 }, cursor: { type: "String" })
  @refetchable(queryName: "UserCardPaginationQuery") {
    id
    name
    email
    createdAt
    attachments(first: $count, after: $cursor) @connection(key: "UserCard_attachments") {
      totalCount
      edges {
        node {
          id
          ...AttachmentRow_attachment
        }
      }
    }
  }
`;
