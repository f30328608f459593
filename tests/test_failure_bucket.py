"""FailureBucket: a safe S3 home for the failed batches of stream mappings."""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from constructs_lib import FailureBucket, ValidationError
from constructs_lib.failure_bucket import check_failure_bucket_props
from tests.harness import lint_template, nag_findings, new_app, normalize_template


@pytest.fixture
def stack() -> cdk.Stack:
    return cdk.Stack(new_app(), "Orders")


def test_defaults_encrypt_block_public_access_enforce_tls_and_expire_after_30_days(stack, template_snapshot):
    FailureBucket(stack, "Failures")
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LifecycleConfiguration": {
                "Rules": [
                    {"Id": "ExpireFailureObjects", "Prefix": "aws/lambda/", "ExpirationInDays": 30, "Status": "Enabled"}
                ]
            },
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {"Effect": "Deny", "Action": "s3:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                    )
                ]
            }
        },
    )
    assert normalize_template(template.to_json()) == template_snapshot


def test_is_nag_and_cfn_lint_clean_with_one_reasoned_acknowledgment(stack):
    bucket = FailureBucket(stack, "Failures")
    assert nag_findings(stack) == []
    assert lint_template(Template.from_stack(stack).to_json()) == []
    acknowledged = [str(entry.data) for entry in bucket.node.default_child.node.metadata]
    assert sum("AwsSolutions-S1" in entry for entry in acknowledged) == 1


def test_with_access_logs_nothing_is_acknowledged(stack):
    logs = FailureBucket(stack, "Logs")
    bucket = FailureBucket(stack, "Failures", server_access_logs_bucket=logs)
    assert not any("AwsSolutions-S1" in str(entry.data) for entry in bucket.node.default_child.node.metadata)


def test_a_customer_managed_key_is_used(stack):
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = FailureBucket(stack, "Failures", encryption_key=key)
    assert bucket.encryption_key is key
    Template.from_stack(stack).has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like({"ServerSideEncryptionByDefault": Match.object_like({"SSEAlgorithm": "aws:kms"})})
                ]
            }
        },
    )


def test_expiration_can_be_changed_or_turned_off(stack):
    FailureBucket(stack, "Short", expiration=cdk.Duration.days(1))
    FailureBucket(stack, "Kept", expiration=None)
    buckets = Template.from_stack(stack).find_resources("AWS::S3::Bucket")
    rules = {lid[:4]: b["Properties"].get("LifecycleConfiguration") for lid, b in buckets.items()}
    assert rules["Shor"]["Rules"][0]["ExpirationInDays"] == 1
    assert rules["Kept"] is None


def test_every_unsafe_setting_is_rejected_at_once(stack):
    with pytest.raises(ValidationError) as raised:
        FailureBucket(
            stack,
            "Failures",
            encryption=s3.BucketEncryption.UNENCRYPTED,
            enforce_ssl=False,
            public_read_access=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ACLS,
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            expiration=cdk.Duration.hours(12),
        )
    assert [v.setting for v in raised.value.violations] == [
        "encryption",
        "enforce_ssl",
        "public_read_access",
        "block_public_access",
        "object_ownership",
        "expiration",
    ]
    assert all(v.path == "Orders/Failures" for v in raised.value.violations)
    assert stack.node.try_find_child("Failures") is None


def test_the_pure_check_accepts_the_safe_values():
    assert (
        check_failure_bucket_props(
            "S/B",
            {
                "encryption": s3.BucketEncryption.KMS_MANAGED,
                "enforce_ssl": True,
                "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
                "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            },
        )
        == []
    )
