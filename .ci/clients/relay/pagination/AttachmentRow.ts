// One attachment, refetchable through node(id:) (after a replaced upload, say).
import { graphql } from 'relay-runtime';

export const AttachmentRowFragment = graphql`
  fragment AttachmentRow_attachment on Attachment @refetchable(queryName: "AttachmentRowRefetchQuery") {
    id
    filename
    contentType
    sizeBytes
    sha256
    createdAt
  }
`;

export const DeleteAttachmentMutation = graphql`
  mutation AttachmentRowDeleteMutation($id: ID!, $connections: [ID!]!) {
    deleteAttachment(id: $id) {
      id
      entityId @deleteEdge(connections: $connections)
    }
  }
`;
