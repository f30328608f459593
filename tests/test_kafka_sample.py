"""The synth-only Kafka example (sample_app/kafka_example.py): wiring, cdk-nag, cfn-lint, our checks, the real CLI
synth, and its handler's partial batch response. Not deployed: moto models neither MSK nor Kafka mappings."""

import base64
import json

import pytest
from aws_cdk.assertions import Template

from constructs_lib.audit import main as audit_main
from constructs_lib.testing import assert_no_failure_handling_findings
from sample_app.handlers.order_events_consumer import handler
from sample_app.kafka_example import build_kafka_app
from tests.harness import lint_template, load_cdk_context, nag_findings, run_cdk


@pytest.fixture(scope="module")
def order_events_stack():
    return build_kafka_app(load_cdk_context(), nag=False).node.find_child("OrderEvents")


@pytest.fixture(scope="module")
def template(order_events_stack) -> Template:
    return Template.from_stack(order_events_stack)


def test_the_consumer_reads_the_topic_in_provisioned_mode_with_a_failure_queue(template):
    [mapping] = template.find_resources("AWS::Lambda::EventSourceMapping").values()
    properties = mapping["Properties"]
    assert properties["EventSourceArn"] == {"Ref": "OrdersClusterArn"}
    assert properties["Topics"] == ["order-events"]
    assert properties["ProvisionedPollerConfig"] == {"MinimumPollers": 1, "MaximumPollers": 4}
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "FailureQueue" in properties["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]


def test_every_alarm_notifies_the_alarm_topic(template):
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 6
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"][0]["Ref"].startswith("AlarmTopic")


def test_the_example_is_nag_cfn_lint_and_failure_handling_clean(order_events_stack, template):
    assert nag_findings(order_events_stack) == []
    assert lint_template(template.to_json()) == []
    assert_no_failure_handling_findings(template)


def test_real_cdk_synth_of_the_example(tmp_path):
    result = run_cdk(["synth", "--quiet", "--app", "python3 -m sample_app.kafka_example", "--output", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "OrderEvents.template.json").read_text())
    assert lint_template(written) == []
    assert json.loads((tmp_path / "validation-report.json").read_text())["pluginReports"] == []
    assert audit_main([str(tmp_path)]) == 0


def _record(offset: int, value: bytes) -> dict:
    return {
        "topic": "order-events",
        "partition": 0,
        "offset": offset,
        "timestamp": 1763944684835,
        "timestampType": "CREATE_TIME",
        "value": base64.b64encode(value).decode(),
        "headers": [],
    }


def test_the_handler_reports_bad_records_in_the_documented_shape():
    event = {
        "eventSource": "aws:kafka",
        "records": {
            "order-events-0": [
                _record(15, b'{"order_id": "o-1"}'),
                _record(16, b"not json"),
                _record(17, b'{"total": 3}'),
            ]
        },
    }
    assert handler(event, None) == {
        "batchItemFailures": [
            {"itemIdentifier": {"topic-partition": "order-events-0", "offset": 16}},
            {"itemIdentifier": {"topic-partition": "order-events-0", "offset": 17}},
        ]
    }
    assert handler({"records": {"order-events-0": [_record(1, b'{"order_id": "o"}')]}}, None) == {
        "batchItemFailures": []
    }
