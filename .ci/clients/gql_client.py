"""Python's gql as a script uses it: results parsed against the schema fetched by
introspection (DateTime to datetime, byte counts to int), a byte count past 2^32 sent as a
variable, uploads with upload_files=True (a file by path, two files in one request, and
aiohttp's streaming upload, whose part has no filename), and an id built with base64.
Run by run.sh, which starts the server and sets KEEPSAKE_URL, KEEPSAKE_TOKEN, CLIENTS_WORK."""

import asyncio
import base64
import hashlib
import os
import sys
import traceback
from datetime import datetime

from gql import Client, FileVar, GraphQLRequest, gql
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.requests import RequestsHTTPTransport
from gql.utilities import update_schema_scalar
from graphql import GraphQLScalarType

URL = os.environ["KEEPSAKE_URL"]
HEADERS = {"Authorization": f"Bearer {os.environ['KEEPSAKE_TOKEN']}"}
WORK = os.environ["CLIENTS_WORK"]
failed = 0


def check(name):
    """Runs the decorated function as one check and prints ok or FAIL, then goes on."""

    def run(fn):
        global failed
        try:
            detail = fn()
            print(f"ok: gql: {name}" + (f" ({detail})" if detail else ""), flush=True)
        except Exception as err:  # every failure is reported, none stops the others
            failed += 1
            message = " ".join(f"{type(err).__name__}: {err}".split())[:1500]
            print(f"FAIL: gql: {name}: {message}", flush=True)
            if os.environ.get("CLIENTS_DEBUG"):
                traceback.print_exc()
        return fn

    return run


def expect(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


# DateTime is an RFC 3339 string on the wire; parsed, a datetime.
DateTime = GraphQLScalarType(
    "DateTime",
    serialize=lambda value: value.isoformat(),
    parse_value=lambda value: datetime.fromisoformat(value.replace("Z", "+00:00")),
)

transport = RequestsHTTPTransport(url=URL, headers=HEADERS)
client = Client(transport=transport, fetch_schema_from_transport=True, parse_results=True)
session = client.connect_sync()  # fetches the schema by introspection
update_schema_scalar(client.schema, "DateTime", DateTime)


def byte_scalar():
    """The type of Attachment.sizeBytes, as the fetched schema says."""
    field_type = client.schema.get_type("Attachment").fields["sizeBytes"].type
    return getattr(field_type, "of_type", field_type).name


me = session.execute(gql("{ me { id } }"))["me"]


@check("parse_results=True with the schema fetched: DateTime parsed to datetime")
def _():
    result = session.execute(gql("{ me { id createdAt } users(first: 3) { totalCount nodes { id createdAt } } }"))
    created = [result["me"]["createdAt"]] + [u["createdAt"] for u in result["users"]["nodes"]]
    if not all(isinstance(value, datetime) and value.tzinfo for value in created):
        raise AssertionError(f"createdAt not parsed to aware datetimes: {created!r}")
    expect(type(result["users"]["totalCount"]), int, "totalCount's type")
    return f"me.createdAt = {result['me']['createdAt'].isoformat()}"


@check("byte counts are one 64-bit scalar (sizeBytes, storageStats, purge) and parse to int")
def _():
    name = byte_scalar()
    if name in ("Int", "Float"):
        raise AssertionError(f"Attachment.sizeBytes is {name}, not a 64-bit byte scalar")
    for type_name, field in [
        ("StorageStats", "liveBytes"),
        ("StorageStats", "deletedBytes"),
        ("StorageStats", "purgeFreesBytes"),
        ("PurgeReport", "freedBytes"),
    ]:
        field_type = client.schema.get_type(type_name).fields[field].type
        expect(getattr(field_type, "of_type", field_type).name, name, f"{type_name}.{field}'s type")
    # The byte scalar as a number: a JSON integer up to 2^53 - 1 is an int.
    update_schema_scalar(client.schema, name, GraphQLScalarType(name, serialize=int, parse_value=int))
    result = session.execute(gql("{ storageStats { liveBytes deletedBytes purgeFreesBytes } }"))
    for key, value in result["storageStats"].items():
        expect(type(value), int, f"storageStats.{key}'s type")
    return f"scalar {name}"


@check("a sizeBytes of 2^40 as a variable (serialize_variables=True) and back")
def _():
    name = byte_scalar()
    request = gql(
        f"mutation($o: ID!, $n: {name}) {{ createAttachment(input: {{ownerId: $o, filename: \"big.iso\","
        ' contentType: "application/octet-stream", sizeBytes: $n}) { id sizeBytes } }'
    )
    request.variable_values = {"o": me["id"], "n": 2**40}
    result = session.execute(request, serialize_variables=True)
    expect(result["createAttachment"]["sizeBytes"], 2**40, "sizeBytes")


UPLOAD = gql(
    "mutation($o: ID!, $f: Upload!) { createAttachment(input: {ownerId: $o, file: $f})"
    " { id filename contentType sizeBytes sha256 } }"
)


def write(name, content):
    path = os.path.join(WORK, name)
    with open(path, "wb") as f:
        f.write(content)
    return path


@check("upload_files=True with a FileVar (requests transport)")
def _():
    content = b"hello from gql\n"
    path = write("gql-notes.txt", content)
    request = GraphQLRequest(UPLOAD)
    request.variable_values = {"o": me["id"], "f": FileVar(path, content_type="text/plain")}
    got = session.execute(request, upload_files=True)["createAttachment"]
    expect(
        (got["filename"], got["contentType"], got["sizeBytes"], got["sha256"]),
        ("gql-notes.txt", "text/plain", len(content), hashlib.sha256(content).hexdigest()),
        "filename, contentType, sizeBytes, sha256",
    )
    return got["id"]


@check("upload_files=True with two files in one request, each its own variable")
def _():
    a = write("gql-a.txt", b"first\n")
    b = write("gql-b.txt", b"second file\n")
    request = gql(
        "mutation($o: ID!, $a: Upload!, $b: Upload!) {"
        " a: createAttachment(input: {ownerId: $o, file: $a}) { filename sizeBytes }"
        " b: createAttachment(input: {ownerId: $o, file: $b}) { filename sizeBytes } }"
    )
    request.variable_values = {"o": me["id"], "a": FileVar(a), "b": FileVar(b)}
    got = session.execute(request, upload_files=True)
    expect(got, {"a": {"filename": "gql-a.txt", "sizeBytes": 6}, "b": {"filename": "gql-b.txt", "sizeBytes": 12}}, "the two")


@check("a streaming upload (aiohttp, FileVar(streaming=True): a part with no filename, named upload)")
def _():
    content = b"streamed by gql\n" * 1000
    path = write("gql-stream.bin", content)

    async def upload():
        streaming = Client(transport=AIOHTTPTransport(url=URL, headers=HEADERS))
        async with streaming as s:
            request = gql(
                "mutation($o: ID!, $f: Upload!, $name: String) {"
                " createAttachment(input: {ownerId: $o, file: $f, filename: $name})"
                " { filename contentType sizeBytes sha256 } }"
            )
            request.variable_values = {"o": me["id"], "f": FileVar(path, streaming=True)}
            unnamed = (await s.execute(request, upload_files=True))["createAttachment"]
            # The filename in the input names it.
            request.variable_values = {"o": me["id"], "f": FileVar(path, streaming=True), "name": "stream.bin"}
            named = (await s.execute(request, upload_files=True))["createAttachment"]
            return unnamed, named

    unnamed, named = asyncio.run(upload())
    digest = hashlib.sha256(content).hexdigest()
    expect(
        (unnamed["filename"], unnamed["contentType"], unnamed["sizeBytes"], unnamed["sha256"]),
        ("upload", "application/octet-stream", len(content), digest),
        "filename, contentType, sizeBytes, sha256",
    )
    expect(named["filename"], "stream.bin", "the filename given in the input")
    return f"{len(content)} bytes"


@check("an id built with base64.b64encode (padded) is the same id")
def _():
    padded = base64.b64encode(b"User:10").decode()
    request = gql("query($id: ID!) { node(id: $id) { id } user(id: $id) { id } }")
    request.variable_values = {"id": padded}
    got = session.execute(request)
    expect(got, {"node": {"id": padded.rstrip("=")}, "user": {"id": padded.rstrip("=")}}, padded)


client.close_sync()
sys.exit(1 if failed else 0)
