"""Parse the failure records Lambda writes into typed, immutable objects.

Lambda reports a failure in one of these shapes, and this module reads every one of them:

- **Asynchronous invocation records** (``version`` 1.0), sent to an on-failure or on-success destination:
  ``requestContext`` (condition ``RetriesExhausted``, ``EventAgeExceeded`` or ``Success``), ``requestPayload``
  (the original event), ``responseContext`` and ``responsePayload``. → :class:`AsyncInvocationRecord`
- **Stream on-failure records** of Kinesis and DynamoDB event source mappings: only the batch's coordinates
  (``KinesisBatchInfo`` / ``DDBStreamBatchInfo``: shard, first and last sequence number, batch size, stream
  ARN), never the data itself. → :class:`StreamFailureRecord`, data fetched by :mod:`constructs_lib.fetch`
- **Function dead-letter-queue messages**: the original event as the body, plus the ``RequestID``,
  ``ErrorCode`` and ``ErrorMessage`` message attributes. → :class:`DeadLetterMessage`
- Any of them **wrapped in an SNS notification** (an SNS topic destination or DLQ, delivered to an SQS
  queue), or as the **body of an SQS message**.

Entry points: :func:`parse_record` for a JSON document (a record or an SNS notification) and
:func:`parse_sqs_message` for a message of the failure queue (as ``ReceiveMessage`` returns it, or as a record
of a Lambda SQS event). Unknown keys are ignored, so newer records with extra fields still parse; a missing or
mistyped required field raises :class:`RecordFormatError` naming the field, never a ``KeyError``.

This module is pure: it imports neither boto3 nor aws_cdk, so it can run inside any Lambda handler.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from constructs_lib.limits import S3_FAILURE_OBJECT_KEY_PATTERN

__all__ = [
    "ASYNC_FAILURE_CONDITIONS",
    "AsyncInvocationRecord",
    "DeadLetterMessage",
    "FailureRecord",
    "RecordFormatError",
    "RequestContext",
    "ResponseContext",
    "S3FailureObjectKey",
    "SnsEnvelope",
    "StreamBatchInfo",
    "StreamFailureRecord",
    "StreamKind",
    "loads_json",
    "parse_record",
    "parse_s3_failure_object",
    "parse_s3_failure_object_key",
    "parse_sns_notification",
    "parse_sqs_message",
    "raw_member",
]

#: Conditions of asynchronous invocation records that mean the event was not processed.
ASYNC_FAILURE_CONDITIONS = frozenset({"RetriesExhausted", "EventAgeExceeded"})

_SUPPORTED_BATCH_INFO_KEYS = {"KinesisBatchInfo", "DDBStreamBatchInfo"}
_KINESIS_STREAM_ARN = re.compile(r"^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream/[^/]+(/consumer/.+)?$")
_DYNAMODB_STREAM_ARN = re.compile(r"^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[^/]+/stream/[^/]+$")
_FUNCTION_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[^:]+(:[^:]+)?$")
_DLQ_ATTRIBUTES = ("RequestID", "ErrorCode", "ErrorMessage")


class RecordFormatError(ValueError):
    """The input is not a record shape Lambda produces, or a field is missing or of the wrong type.

    ``path`` locates the offending field (for example ``body.Message.KinesisBatchInfo.batchSize``; empty when
    the whole input is at fault) and ``problem`` says what is wrong with it.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


class StreamKind(StrEnum):
    """The stream an event source mapping reads."""

    KINESIS = "kinesis"
    DYNAMODB = "dynamodb"


@dataclass(frozen=True)
class SnsEnvelope:
    """The SNS notification a record arrived in (``Type`` ``Notification``)."""

    message_id: str
    topic_arn: str
    timestamp: datetime | None
    subject: str | None


@dataclass(frozen=True)
class RequestContext:
    """``requestContext``: which invocation failed, why, and how often Lambda tried it."""

    request_id: str
    function_arn: str
    condition: str
    approximate_invoke_count: int


@dataclass(frozen=True)
class ResponseContext:
    """``responseContext``: the last invocation's status; ``function_error`` is set when the function threw."""

    status_code: int
    executed_version: str | None
    function_error: str | None


@dataclass(frozen=True)
class AsyncInvocationRecord:
    """An asynchronous invocation record (on-failure or on-success destination).

    ``request_payload`` is the original event, decoded (an integer too long for Python's ``int`` or a number
    beyond a float's range is a ``Decimal``). ``request_payload_json`` is the same event as the exact JSON text
    the record holds (numbers with their digits, strings with their escapes), or ``None`` when the record was
    given as an already decoded object: replay that, not a re-encoding of ``request_payload``. Lambda leaves the
    payload out when the record would exceed the destination's size limit; ``request_payload_included`` is
    then ``False`` and the event cannot be replayed from this record. ``response_context`` and
    ``response_payload`` are ``None`` when the record has none (for example an event that expired before the
    function ever ran).
    """

    version: str
    timestamp: datetime
    request_context: RequestContext
    request_payload: Any
    request_payload_included: bool
    response_context: ResponseContext | None
    response_payload: Any
    sns: SnsEnvelope | None = None
    # The same record in other formatting is the same record.
    request_payload_json: str | None = field(default=None, compare=False)

    @property
    def is_failure(self) -> bool:
        """True for ``RetriesExhausted`` / ``EventAgeExceeded``, False for an on-success record."""
        return self.request_context.condition in ASYNC_FAILURE_CONDITIONS

    @property
    def function_arn(self) -> str:
        """The invoked function's ARN, with the qualifier Lambda recorded (e.g. ``...:function:f:$LATEST``)."""
        return self.request_context.function_arn


@dataclass(frozen=True)
class StreamBatchInfo:
    """The coordinates of a failed stream batch: ``KinesisBatchInfo`` or ``DDBStreamBatchInfo``.

    Sequence numbers are decimal strings (up to 56 digits for Kinesis); compare them with
    :attr:`start_sequence` / :attr:`end_sequence`, not as text.
    """

    kind: StreamKind
    shard_id: str
    start_sequence_number: str
    end_sequence_number: str
    approximate_arrival_of_first_record: datetime
    approximate_arrival_of_last_record: datetime
    batch_size: int
    stream_arn: str

    @property
    def start_sequence(self) -> int:
        return int(self.start_sequence_number)

    @property
    def end_sequence(self) -> int:
        return int(self.end_sequence_number)

    @property
    def region(self) -> str:
        """The stream's region, from its ARN."""
        return self.stream_arn.split(":")[3]


@dataclass(frozen=True)
class StreamFailureRecord:
    """An on-failure record of a Kinesis or DynamoDB Streams event source mapping.

    It holds only where the failed batch lies in the stream (:attr:`batch_info`); fetch the records with
    :func:`constructs_lib.fetch.fetch_batch` before the stream's retention removes them.
    """

    version: str
    timestamp: datetime
    request_context: RequestContext
    response_context: ResponseContext | None
    batch_info: StreamBatchInfo
    sns: SnsEnvelope | None = None
    # Equality is about the batch a record points to: an S3 object and an SQS message for one batch are equal.
    payload: Any = field(default=None, compare=False, repr=False)
    """The original invocation event (``{"Records": [...]}``), decoded: only in an S3 failure object."""
    payload_included: bool = field(default=False, compare=False)
    payload_json: str | None = field(default=None, compare=False, repr=False)
    """The event exactly as the S3 object holds it (the text of the escaped ``payload`` string): replay this."""

    @property
    def function_arn(self) -> str:
        return self.request_context.function_arn

    def event_records(self) -> list[dict[str, Any]]:
        """The records of the failed batch as the Lambda event carried them (``payload.Records``): the data
        itself, no fetch needed. Empty when the record has no payload (an SQS or SNS destination).
        Raises :class:`RecordFormatError` when the payload is not a stream event of the batch's kind."""
        if not self.payload_included:
            return []
        return _stream_event_records(self.payload, self.batch_info)


@dataclass(frozen=True)
class DeadLetterMessage:
    """A message of a function's dead-letter queue (or topic): the original event and why it failed.

    ``body`` is the original event exactly as Lambda delivered it and ``event`` the same, parsed.
    ``error_code`` is the HTTP status code of the last attempt, ``error_message`` the first 1 KB of the error
    (``None`` if the attribute is missing).
    """

    body: str
    event: Any
    request_id: str
    error_code: int
    error_message: str | None
    sns: SnsEnvelope | None = None


#: Everything :func:`parse_record` and :func:`parse_sqs_message` return.
FailureRecord = AsyncInvocationRecord | StreamFailureRecord | DeadLetterMessage


def parse_record(document: str | bytes | Mapping[str, Any], *, path: str = "") -> FailureRecord:
    """Parse one JSON document: an invocation record, or an SNS notification carrying one or a DLQ event.

    ``document`` is JSON text or an already-decoded object. ``path`` prefixes field names in error messages.
    Raises :class:`RecordFormatError` if it is not one of those shapes.
    """
    data = _load_json(document, path)
    if data.get("Type") == "Notification":
        return parse_sns_notification(data, path=path)
    return _parse_invocation_record(_Fields(data, path), _text_of(document))


def parse_sns_notification(notification: str | bytes | Mapping[str, Any], *, path: str = "") -> FailureRecord:
    """Parse an SNS notification whose ``Message`` is a Lambda failure record or a dead-letter event.

    Accepts the JSON an SQS subscription receives and the ``Sns`` object of a Lambda SNS event. A notification
    with ``RequestID`` / ``ErrorCode`` message attributes comes from a dead-letter topic; any other is an
    invocation record published by a destination.
    """
    fields = _Fields(_load_json(notification, path), path)
    if fields.required_str("Type") != "Notification":
        raise RecordFormatError(fields.child_path("Type"), f"expected 'Notification', got {fields.data['Type']!r}")
    envelope = SnsEnvelope(
        message_id=fields.required_str("MessageId"),
        topic_arn=fields.required_str("TopicArn"),
        timestamp=fields.optional_timestamp("Timestamp"),
        subject=fields.optional_str("Subject"),
    )
    message = fields.required_str("Message")
    attributes = _message_attributes(fields, "MessageAttributes", value_key="Value", type_key="Type")
    message_path = fields.child_path("Message")
    if _is_dead_letter(attributes):
        return _parse_dead_letter(message, message_path, attributes, fields.child_path("MessageAttributes"), envelope)
    record = _parse_invocation_record(_Fields(_load_json(message, message_path), message_path), message)
    return replace(record, sns=envelope)


def parse_sqs_message(message: Mapping[str, Any], *, attributes_requested: bool = False) -> FailureRecord:
    """Parse a message of a failure queue: a destination record, a DLQ event, or either wrapped by SNS.

    ``message`` is one element of ``ReceiveMessage``'s ``Messages`` (``Body``, ``MessageAttributes`` with
    ``StringValue``; ask for ``MessageAttributeNames=["All"]``) or one record of a Lambda SQS event (``body``,
    ``messageAttributes`` with ``stringValue``). Message attributes ``RequestID`` and ``ErrorCode`` mark a
    function dead-letter message; otherwise the body is parsed with :func:`parse_record`. Unless
    ``attributes_requested`` says the message was received with its attributes, the error for an unknown
    body mentions that a dead-letter message received without them looks like one.
    """
    if not isinstance(message, Mapping):
        raise RecordFormatError("", f"expected an SQS message object, got {_describe(message)}")
    fields = _Fields(message, "")
    if "Body" in message:
        body_key, attributes_key, value_key, type_key = "Body", "MessageAttributes", "StringValue", "DataType"
    elif "body" in message:
        body_key, attributes_key, value_key, type_key = "body", "messageAttributes", "stringValue", "dataType"
    else:
        raise RecordFormatError("", f"not an SQS message: no 'Body' (or 'body'); keys found: {_keys(message)}")
    body = fields.required_str(body_key)
    attributes = _message_attributes(fields, attributes_key, value_key=value_key, type_key=type_key)
    if _is_dead_letter(attributes):
        return _parse_dead_letter(body, body_key, attributes, attributes_key, None)
    try:
        return parse_record(body, path=body_key)
    except RecordFormatError as error:
        if attributes_requested or attributes or error.path != body_key:
            raise
        if not error.problem.startswith("not a Lambda invocation record"):
            raise
        # ReceiveMessage returns no attributes unless asked, and they are what marks a dead-letter message.
        raise RecordFormatError(
            error.path,
            f"{error.problem}; if this is a function dead-letter message, receive it with "
            "MessageAttributeNames=['All'] so its RequestID and ErrorCode attributes come along",
        ) from None


def _parse_invocation_record(fields: _Fields, text: str | None = None) -> AsyncInvocationRecord | StreamFailureRecord:
    data = fields.data
    if "requestContext" not in data:
        raise RecordFormatError(
            fields.path,
            "not a Lambda invocation record, SNS notification or dead-letter message "
            f"(no 'requestContext' and no 'Type': 'Notification'); keys found: {_keys(data)}",
        )
    batch_keys = sorted(key for key in data if isinstance(key, str) and key.endswith("BatchInfo"))
    unsupported = [key for key in batch_keys if key not in _SUPPORTED_BATCH_INFO_KEYS]
    if unsupported:
        hint = ": parse Kafka records with parse_kafka_record" if unsupported[0] == "KafkaBatchInfo" else ""
        raise RecordFormatError(
            fields.child_path(unsupported[0]),
            "unsupported batch info: only KinesisBatchInfo and DDBStreamBatchInfo records can be parsed" + hint,
        )
    if len(batch_keys) > 1:
        raise RecordFormatError(fields.path, f"ambiguous record: it has both {' and '.join(batch_keys)}")

    version = fields.required_str("version")
    if not version.startswith("1."):
        raise RecordFormatError(fields.child_path("version"), f"unsupported record version {version!r} (expected 1.x)")
    timestamp = fields.required_timestamp("timestamp")
    request_context = _parse_request_context(fields.required_object("requestContext"))
    response_fields = fields.optional_object("responseContext")
    response_context = _parse_response_context(response_fields) if response_fields else None

    if batch_keys:
        batch_info = _parse_batch_info(fields.required_object(batch_keys[0]), batch_keys[0])
        payload, included = _stream_payload(fields)
        raw_payload = fields.data.get("payload")
        record = StreamFailureRecord(
            version=version,
            timestamp=timestamp,
            request_context=request_context,
            response_context=response_context,
            batch_info=batch_info,
            payload=payload,
            payload_included=included,
            payload_json=raw_payload if isinstance(raw_payload, str) else None,
        )
        if included:
            record.event_records()  # a broken payload fails here, naming its field, not later during a replay
        return record
    return AsyncInvocationRecord(
        version=version,
        timestamp=timestamp,
        request_context=request_context,
        request_payload=data.get("requestPayload"),
        request_payload_included="requestPayload" in data,
        response_context=response_context,
        response_payload=data.get("responsePayload"),
        request_payload_json=raw_member(text, "requestPayload") if text is not None else None,
    )


def _parse_request_context(fields: _Fields) -> RequestContext:
    function_arn = fields.required_str("functionArn")
    if not _FUNCTION_ARN.match(function_arn):
        raise RecordFormatError(fields.child_path("functionArn"), f"not a Lambda function ARN: {function_arn!r}")
    return RequestContext(
        request_id=fields.required_str("requestId"),
        function_arn=function_arn,
        condition=fields.required_str("condition"),
        approximate_invoke_count=fields.required_int("approximateInvokeCount", minimum=0),
    )


def _parse_response_context(fields: _Fields) -> ResponseContext:
    return ResponseContext(
        status_code=fields.required_int("statusCode", minimum=0),
        executed_version=fields.optional_str("executedVersion"),
        function_error=fields.optional_str("functionError"),
    )


def _parse_batch_info(fields: _Fields, key: str) -> StreamBatchInfo:
    kind = StreamKind.KINESIS if key == "KinesisBatchInfo" else StreamKind.DYNAMODB
    stream_arn = fields.required_str("streamArn")
    pattern = _KINESIS_STREAM_ARN if kind is StreamKind.KINESIS else _DYNAMODB_STREAM_ARN
    if not pattern.match(stream_arn):
        expected = (
            "a Kinesis stream ARN" if kind is StreamKind.KINESIS else "a DynamoDB stream ARN (.../table/T/stream/L)"
        )
        raise RecordFormatError(fields.child_path("streamArn"), f"expected {expected}, got {stream_arn!r}")
    start = fields.required_sequence_number("startSequenceNumber")
    end = fields.required_sequence_number("endSequenceNumber")
    if int(end) < int(start):
        raise RecordFormatError(
            fields.child_path("endSequenceNumber"), f"ends before it starts ({end} < startSequenceNumber {start})"
        )
    return StreamBatchInfo(
        kind=kind,
        shard_id=fields.required_str("shardId"),
        start_sequence_number=start,
        end_sequence_number=end,
        approximate_arrival_of_first_record=fields.required_timestamp("approximateArrivalOfFirstRecord"),
        approximate_arrival_of_last_record=fields.required_timestamp("approximateArrivalOfLastRecord"),
        batch_size=fields.required_int("batchSize", minimum=1),
        stream_arn=stream_arn,
    )


def _stream_payload(fields: _Fields) -> tuple[Any, bool]:
    """``payload`` of an S3 failure object: the original event as an escaped JSON string (an object is taken
    as it is). Absent or null: not included (SQS and SNS destinations carry none)."""
    value = fields.data.get("payload")
    if value is None:
        return None, False
    if isinstance(value, str):
        value = _load_json(value, fields.child_path("payload"))
    if not isinstance(value, dict):
        raise RecordFormatError(fields.child_path("payload"), f"expected the invocation event, got {_describe(value)}")
    return value, True


# What each record of a stream event must hold to be replayed (Lambda developer guide, example Kinesis and
# DynamoDB events): Kinesis ``kinesis.{partitionKey, sequenceNumber, data}``, DynamoDB
# ``dynamodb.{SequenceNumber, Keys}``.
_EVENT_RECORD_FIELDS = {
    StreamKind.KINESIS: ("kinesis", ("partitionKey", "sequenceNumber", "data")),
    StreamKind.DYNAMODB: ("dynamodb", ("SequenceNumber", "Keys")),
}


def _stream_event_records(payload: Any, batch: StreamBatchInfo) -> list[dict[str, Any]]:
    fields = _Fields(payload, "payload")
    records = fields.data.get("Records")
    if not isinstance(records, list):
        raise RecordFormatError(fields.child_path("Records"), f"expected a list of records, got {_describe(records)}")
    member, required = _EVENT_RECORD_FIELDS[batch.kind]
    for index, record in enumerate(records):
        record_fields = _Fields(record, f"payload.Records[{index}]")
        if not isinstance(record, dict):
            raise RecordFormatError(record_fields.path, f"expected a record object, got {_describe(record)}")
        inner = record_fields.required_object(member)
        for key in required:
            if key == "Keys":
                inner.required_object(key)
            else:
                inner.required_str(key)
        if batch.kind is StreamKind.KINESIS:
            try:
                base64.b64decode(inner.data["data"], validate=True)
            except (binascii.Error, ValueError):
                raise RecordFormatError(inner.child_path("data"), "not base64") from None
    return records


def parse_s3_failure_object(body: str | bytes | Mapping[str, Any], *, key: str = "") -> StreamFailureRecord:
    """Parse an object Lambda wrote to an S3 on-failure destination of a Kinesis or DynamoDB Streams mapping:
    the invocation record with ``payload``, the whole failed event (:meth:`StreamFailureRecord.event_records`).

    ``key`` (the object key) prefixes field names in error messages. Raises :class:`RecordFormatError` for
    anything else, a Kafka record included (parse those with :func:`parse_kafka_record`).
    """
    record = parse_record(body, path=key)
    if not isinstance(record, StreamFailureRecord):
        raise RecordFormatError(key, "not a stream on-failure record (no KinesisBatchInfo or DDBStreamBatchInfo)")
    return record


@dataclass(frozen=True)
class S3FailureObjectKey:
    """The parts of a failure object's key, ``aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/<time>-<UUID>``."""

    mapping_uuid: str
    shard_id: str
    written_at: datetime


def parse_s3_failure_object_key(key: str) -> S3FailureObjectKey | None:
    """The mapping, shard and time of a failure object's key; None for a key Lambda would not write."""
    match = re.fullmatch(S3_FAILURE_OBJECT_KEY_PATTERN, key)
    if match is None:
        return None
    try:
        written = datetime.strptime(match["timestamp"], "%Y-%m-%dT%H.%M.%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return S3FailureObjectKey(match["mapping_uuid"], match["shard_id"], written)


def _is_dead_letter(attributes: Mapping[str, tuple[str | bytes, str | None]]) -> bool:
    return "RequestID" in attributes or "ErrorCode" in attributes


def _parse_dead_letter(
    body: str,
    body_path: str,
    attributes: Mapping[str, tuple[str | bytes, str | None]],
    attributes_path: str,
    envelope: SnsEnvelope | None,
) -> DeadLetterMessage:
    for name in _DLQ_ATTRIBUTES:
        if name not in attributes and name != "ErrorMessage":
            raise RecordFormatError(
                f"{attributes_path}.{name}",
                f"missing: a function dead-letter message carries {', '.join(_DLQ_ATTRIBUTES)}",
            )
        if name in attributes and not isinstance(attributes[name][0], str):
            raise RecordFormatError(f"{attributes_path}.{name}", "expected a String attribute, got a Binary one")
    error_code_text = str(attributes["ErrorCode"][0])
    try:
        error_code = int(error_code_text)
    except ValueError:
        raise RecordFormatError(
            f"{attributes_path}.ErrorCode", f"expected an HTTP status code, got {error_code_text!r}"
        ) from None
    return DeadLetterMessage(
        body=body,
        event=_load_json(body, body_path, expect_object=False),
        request_id=str(attributes["RequestID"][0]),
        error_code=error_code,
        error_message=str(attributes["ErrorMessage"][0]) if "ErrorMessage" in attributes else None,
        sns=envelope,
    )


def _message_attributes(
    fields: _Fields, key: str, *, value_key: str, type_key: str
) -> dict[str, tuple[str | bytes, str | None]]:
    """Read SQS (``StringValue``/``DataType``) or SNS (``Value``/``Type``) message attributes: name → (value, type).

    A ``Binary`` attribute's value is bytes: SQS's ``BinaryValue`` as ReceiveMessage returns it, or the base64
    text of a Lambda SQS event's ``binaryValue`` and of an SNS notification's ``Value``.
    """
    attributes = fields.optional_object(key)
    if attributes is None:
        return {}
    result: dict[str, tuple[str | bytes, str | None]] = {}
    binary_key = value_key.replace("String", "Binary").replace("string", "binary")
    for name in attributes.data:
        attribute = attributes.required_object(name)
        data_type = attribute.optional_str(type_key)
        if data_type is not None and data_type.startswith("Binary"):
            raw = attribute.data.get(binary_key, attribute.data.get(value_key))
            result[name] = (_binary_value(raw, attribute.child_path(binary_key)), data_type)
        else:
            result[name] = (attribute.required_str(value_key), data_type)
    return result


def _binary_value(raw: Any, path: str) -> bytes:
    if isinstance(raw, bytes | bytearray):
        return bytes(raw)
    if isinstance(raw, str):
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise RecordFormatError(path, "expected base64 text for a Binary attribute") from None
    raise RecordFormatError(path, f"expected a Binary attribute value, got {_describe(raw)}")


def _load_json(document: str | bytes | Mapping[str, Any], path: str, *, expect_object: bool = True) -> Any:
    if isinstance(document, Mapping):
        return document
    if isinstance(document, bytes | bytearray):
        try:
            document = document.decode("utf-8")
        except UnicodeDecodeError as error:
            raise RecordFormatError(path, f"not UTF-8 text: {error}") from None
    if not isinstance(document, str):
        raise RecordFormatError(path, f"expected JSON text or an object, got {_describe(document)}")
    data = loads_json(document, path)
    if expect_object and not isinstance(data, dict):
        raise RecordFormatError(path, f"expected a JSON object, got {_describe(data)}")
    return data


def loads_json(text: str, path: str = "") -> Any:
    """``json.loads`` for records: standard JSON only, any number, and only ``RecordFormatError`` on bad input.

    Integers longer than Python's ``int`` conversion allows and numbers beyond a float's range decode to
    ``Decimal`` (never ``Infinity``); ``NaN`` / ``Infinity`` literals, which are not JSON, are refused; input
    nested deeper than the parser can follow is refused with a clear message instead of a ``RecursionError``.
    """
    try:
        return json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise RecordFormatError(path, f"not JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    except _NotJson as error:
        raise RecordFormatError(path, f"not standard JSON: {error} is not a JSON value") from None
    except RecursionError:
        raise RecordFormatError(path, "nested too deeply to be parsed (arrays or objects inside each other)") from None


def raw_member(text: str, key: str) -> str | None:
    """The exact JSON text of the top-level member ``key`` of the JSON object ``text`` (the last one if repeated).

    Only the top level is walked; values are skipped with the standard decoder, so whitespace, escapes and the
    digits of numbers are returned exactly as written. ``None`` if ``text`` is not an object or has no such key.
    """
    decoder = _RAW_DECODER
    try:
        index = _skip_space(text, 0)
        if text[index] != "{":
            return None
        index = _skip_space(text, index + 1)
        found = None
        if text[index] == "}":
            return None
        while True:
            if text[index] != '"':
                return None
            name, index = json.decoder.scanstring(text, index + 1)  # type: ignore[attr-defined]
            index = _skip_space(text, index)
            if text[index] != ":":
                return None
            start = _skip_space(text, index + 1)
            _, end = decoder.raw_decode(text, start)
            if name == key:
                found = text[start:end]
            index = _skip_space(text, end)
            if text[index] == ",":
                index = _skip_space(text, index + 1)
            elif text[index] == "}":
                return found
            else:
                return None
    except (IndexError, ValueError, RecursionError):
        return None


class _NotJson(ValueError):
    pass


def _parse_int(text: str) -> int | Decimal:
    try:
        return int(text)
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        return Decimal(text)


def _parse_float(text: str) -> float | Decimal:
    value = float(text)
    return value if value not in (float("inf"), float("-inf")) else Decimal(text)


def _refuse_constant(name: str) -> Any:
    raise _NotJson(name)


_RAW_DECODER = json.JSONDecoder(parse_int=str, parse_float=str, parse_constant=_refuse_constant)
_SPACE = re.compile(r"[ \t\n\r]*")


def _skip_space(text: str, index: int) -> int:
    match = _SPACE.match(text, index)
    return match.end() if match else index


def _text_of(document: str | bytes | Mapping[str, Any]) -> str | None:
    if isinstance(document, str):
        return document
    if isinstance(document, bytes | bytearray):
        return bytes(document).decode("utf-8")
    return None


class _Fields:
    """Typed access to one JSON object's fields; every failure names the full path of the field."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise RecordFormatError(path, f"expected a JSON object, got {_describe(data)}")
        self.data: Mapping[str, Any] = data
        self.path = path

    def child_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _required(self, key: str) -> Any:
        if key not in self.data:
            raise RecordFormatError(self.child_path(key), "missing required field")
        return self.data[key]

    def required_str(self, key: str) -> str:
        value = self._required(key)
        if not isinstance(value, str) or not value:
            raise RecordFormatError(self.child_path(key), f"expected a non-empty string, got {_describe(value)}")
        return value

    def optional_str(self, key: str) -> str | None:
        return None if self.data.get(key) is None else self.required_str(key)

    def required_int(self, key: str, *, minimum: int) -> int:
        value = self._required(key)
        # bool is an int subclass in Python; JSON true is not a count.
        if not isinstance(value, int) or isinstance(value, bool):
            raise RecordFormatError(self.child_path(key), f"expected an integer, got {_describe(value)}")
        if value < minimum:
            raise RecordFormatError(self.child_path(key), f"expected an integer >= {minimum}, got {value}")
        return value

    def required_sequence_number(self, key: str) -> str:
        value = self.required_str(key)
        if not value.isdigit() or not value.isascii():
            raise RecordFormatError(self.child_path(key), f"expected a decimal sequence number, got {value!r}")
        return value

    def required_timestamp(self, key: str) -> datetime:
        return self._timestamp(key, self.required_str(key))

    def optional_timestamp(self, key: str) -> datetime | None:
        value = self.optional_str(key)
        return None if value is None else self._timestamp(key, value)

    def _timestamp(self, key: str, value: str) -> datetime:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise RecordFormatError(self.child_path(key), f"expected an ISO 8601 timestamp, got {value!r}") from None
        if parsed.tzinfo is None:
            raise RecordFormatError(self.child_path(key), f"timestamp has no time zone: {value!r}")
        return parsed

    def required_object(self, key: str) -> _Fields:
        return _Fields(self._required(key), self.child_path(key))

    def optional_object(self, key: str) -> _Fields | None:
        return None if self.data.get(key) is None else self.required_object(key)


def _describe(value: Any) -> str:
    """A short, type-first description of a JSON value for error messages."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    name = names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)
    text = repr(value)
    return f"{name} ({text[:60]}{'…' if len(text) > 60 else ''})" if value is not None else name


def _keys(data: Mapping[Any, Any]) -> str:
    keys = sorted(str(key) for key in data)
    return ", ".join(keys[:12]) + (", …" if len(keys) > 12 else "") if keys else "(none)"


# --- Kafka (Amazon MSK and self-managed Apache Kafka) on-failure records ---------------------------------------
# Shapes from the AWS Lambda developer guide, looked up 2026-12:
# - "Capturing discarded batches for Amazon MSK and self-managed Apache Kafka event sources"
#   (https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html): to an SQS queue or SNS topic, the
#   invocation record with ``KafkaBatchInfo`` {batchSize, eventSourceArn, bootstrapServers, payloadSize,
#   recordsInfo: {"<topic>-<partition>": {firstRecordOffset, lastRecordOffset, firstRecordTimestamp,
#   lastRecordTimestamp}}}; condition ``RetryAttemptsExhausted`` or ``MaximumPayloadSizeExceeded`` (then
#   responseContext is null). An S3 object adds ``payload``: the whole invocation event as an escaped JSON string.
# - "Using a Kafka topic as an on-failure destination"
#   (https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html): one message per failed record,
#   ``KafkaBatchInfo`` {batchSize 1, eventSourceArn, bootstrapServers, payloadSize, recordInfo: {offset, timestamp}}
#   and ``payload``: the Kafka event (an object) holding that record.
# Offsets appear as decimal strings in the metadata and as numbers in the event; both are read as integers.
# Self-managed Kafka has no cluster ARN, so ``eventSourceArn`` is optional.


@dataclass(frozen=True)
class KafkaPartitionRange:
    """One ``recordsInfo`` entry: the failed batch's offsets in one partition of a topic."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    first_record_timestamp: datetime
    last_record_timestamp: datetime


@dataclass(frozen=True)
class KafkaRecordInfo:
    """``recordInfo`` of a record written to a Kafka topic destination: the failed record's offset and time."""

    offset: int
    timestamp: datetime


@dataclass(frozen=True)
class KafkaBatchInfo:
    """``KafkaBatchInfo``: where the failed records are. ``partitions`` for an SQS, SNS or S3 destination,
    ``record_info`` for a Kafka topic destination (one record per message)."""

    batch_size: int
    event_source_arn: str | None
    bootstrap_servers: tuple[str, ...]
    payload_size: int | None
    partitions: tuple[KafkaPartitionRange, ...]
    record_info: KafkaRecordInfo | None


@dataclass(frozen=True)
class KafkaRecord:
    """A Kafka record of the original event (``payload``), with key and value decoded from base64."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None
    key: bytes | None
    value: bytes | None
    headers: Any


@dataclass(frozen=True)
class KafkaFailureRecord:
    """An on-failure record of a Kafka event source mapping (Amazon MSK or self-managed Apache Kafka).

    From an SQS queue or SNS topic it holds only where the failed batch is (:attr:`batch_info` partitions and
    offsets): read the records back from the topic while its retention keeps them. From an S3 bucket or a Kafka
    topic destination it also carries the event (:attr:`payload`, :attr:`records`).
    """

    version: str
    timestamp: datetime
    request_context: RequestContext
    response_context: ResponseContext | None
    batch_info: KafkaBatchInfo
    payload: Any
    payload_included: bool
    sns: SnsEnvelope | None = None

    @property
    def function_arn(self) -> str:
        return self.request_context.function_arn

    @property
    def records(self) -> tuple[KafkaRecord, ...]:
        """The Kafka records of :attr:`payload` (empty when the record carries no payload)."""
        if not self.payload_included:
            return ()
        return _kafka_records(_Fields(self.payload, "payload"))


__all__ += ["KafkaBatchInfo", "KafkaFailureRecord", "KafkaPartitionRange", "KafkaRecord", "KafkaRecordInfo"]
__all__ += ["parse_kafka_record", "parse_kafka_sqs_message"]


def parse_kafka_record(document: str | bytes | Mapping[str, Any], *, path: str = "") -> KafkaFailureRecord:
    """Parse a Kafka on-failure record: JSON text or an object from an SQS message body, an S3 object or a Kafka
    topic destination, or an SNS notification carrying one. Raises :class:`RecordFormatError` naming the field."""
    data = _load_json(document, path)
    if data.get("Type") == "Notification":
        fields = _Fields(data, path)
        envelope = SnsEnvelope(
            message_id=fields.required_str("MessageId"),
            topic_arn=fields.required_str("TopicArn"),
            timestamp=fields.optional_timestamp("Timestamp"),
            subject=fields.optional_str("Subject"),
        )
        message_path = fields.child_path("Message")
        record = parse_kafka_record(fields.required_str("Message"), path=message_path)
        return replace(record, sns=envelope)
    fields = _Fields(data, path)
    if "KafkaBatchInfo" not in data:
        raise RecordFormatError(
            fields.child_path("KafkaBatchInfo"), f"missing: not a Kafka on-failure record; keys found: {_keys(data)}"
        )
    version = fields.required_str("version")
    if not version.startswith("1."):
        raise RecordFormatError(fields.child_path("version"), f"unsupported record version {version!r} (expected 1.x)")
    response_fields = fields.optional_object("responseContext")
    payload, included = _kafka_payload(fields)
    return KafkaFailureRecord(
        version=version,
        timestamp=fields.required_timestamp("timestamp"),
        request_context=_parse_request_context(fields.required_object("requestContext")),
        response_context=_parse_response_context(response_fields) if response_fields else None,
        batch_info=_parse_kafka_batch_info(fields.required_object("KafkaBatchInfo")),
        payload=payload,
        payload_included=included,
    )


def parse_kafka_sqs_message(message: Mapping[str, Any]) -> KafkaFailureRecord:
    """Parse a message of a Kafka mapping's failure queue (``ReceiveMessage``'s ``Body`` or a Lambda SQS event
    record's ``body``), the record sent directly or through an SNS topic."""
    if not isinstance(message, Mapping):
        raise RecordFormatError("", f"expected an SQS message object, got {_describe(message)}")
    key = "Body" if "Body" in message else "body" if "body" in message else None
    if key is None:
        raise RecordFormatError("", f"not an SQS message: no 'Body' (or 'body'); keys found: {_keys(message)}")
    return parse_kafka_record(_Fields(message, "").required_str(key), path=key)


def _kafka_payload(fields: _Fields) -> tuple[Any, bool]:
    """``payload``: an object (Kafka topic destination) or the event as an escaped JSON string (S3)."""
    if fields.data.get("payload") is None:
        return None, False
    value = fields.data["payload"]
    if isinstance(value, str):
        value = _load_json(value, fields.child_path("payload"))
    return _Fields(value, fields.child_path("payload")).data, True


def _parse_kafka_batch_info(fields: _Fields) -> KafkaBatchInfo:
    servers = fields.required_str("bootstrapServers")
    payload_size = fields.data.get("payloadSize")
    partitions: list[KafkaPartitionRange] = []
    records_info = fields.optional_object("recordsInfo")
    for key in records_info.data if records_info is not None else ():
        assert records_info is not None
        entry = records_info.required_object(key)
        topic, partition = _topic_partition(key, entry.path)
        first = _offset(entry, "firstRecordOffset")
        last = _offset(entry, "lastRecordOffset")
        if last < first:
            raise RecordFormatError(
                entry.child_path("lastRecordOffset"), f"ends before it starts ({last} < firstRecordOffset {first})"
            )
        partitions.append(
            KafkaPartitionRange(
                topic=topic,
                partition=partition,
                first_offset=first,
                last_offset=last,
                first_record_timestamp=entry.required_timestamp("firstRecordTimestamp"),
                last_record_timestamp=entry.required_timestamp("lastRecordTimestamp"),
            )
        )
    record_fields = fields.optional_object("recordInfo")
    record_info = (
        KafkaRecordInfo(
            offset=_offset(record_fields, "offset"), timestamp=record_fields.required_timestamp("timestamp")
        )
        if record_fields is not None
        else None
    )
    if not partitions and record_info is None:
        raise RecordFormatError(fields.path, "has neither recordsInfo nor recordInfo: it does not say which records")
    return KafkaBatchInfo(
        batch_size=fields.required_int("batchSize", minimum=1),
        event_source_arn=fields.optional_str("eventSourceArn"),
        bootstrap_servers=tuple(server.strip() for server in servers.split(",") if server.strip()),
        payload_size=fields.required_int("payloadSize", minimum=0) if payload_size is not None else None,
        partitions=tuple(partitions),
        record_info=record_info,
    )


def _topic_partition(key: str, path: str) -> tuple[str, int]:
    """``"<topic>-<partition>"``: topic names may contain '-', the partition is the last part."""
    topic, _, partition = key.rpartition("-")
    if not topic or not partition.isdigit() or not partition.isascii():
        raise RecordFormatError(path, f"expected a '<topic>-<partition>' key, got {key!r}")
    return topic, int(partition)


def _offset(fields: _Fields, key: str) -> int:
    value = fields._required(key)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit() and value.isascii():
        return int(value)
    raise RecordFormatError(fields.child_path(key), f"expected an offset (a whole number >= 0), got {_describe(value)}")


def _kafka_records(event: _Fields) -> tuple[KafkaRecord, ...]:
    records = event.required_object("records")
    result = []
    for key in records.data:
        entries = records.data[key]
        if not isinstance(entries, list):
            raise RecordFormatError(records.child_path(key), f"expected an array, got {_describe(entries)}")
        for index, entry in enumerate(entries):
            fields = _Fields(entry, f"{records.child_path(key)}[{index}]")
            timestamp = fields.data.get("timestamp")
            result.append(
                KafkaRecord(
                    topic=fields.required_str("topic"),
                    partition=fields.required_int("partition", minimum=0),
                    offset=_offset(fields, "offset"),
                    timestamp=timestamp if isinstance(timestamp, int) and not isinstance(timestamp, bool) else None,
                    key=_base64(fields, "key"),
                    value=_base64(fields, "value"),
                    headers=fields.data.get("headers"),
                )
            )
    return tuple(result)


def _base64(fields: _Fields, key: str) -> bytes | None:
    value = fields.optional_str(key)
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise RecordFormatError(fields.child_path(key), f"expected base64, got {_describe(value)}") from None
