"""FailureBucket: the S3 bucket a Kinesis or DynamoDB Streams mapping parks whole failed batches in."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib._cdk import child_path
from constructs_lib.errors import Violation, raise_if_any
from constructs_lib.limits import FAILURE_BUCKET_EXPIRATION_DAYS, S3_FAILURE_OBJECT_PREFIX

FAILURE_EXPIRATION = cdk.Duration.days(FAILURE_BUCKET_EXPIRATION_DAYS)


def check_failure_bucket_props(path: str, props: dict[str, Any]) -> list[Violation]:
    """A failure home must keep every record, safely: what of ``props`` would not (pure over plain values)."""
    violations = []
    if props.get("encryption") == s3.BucketEncryption.UNENCRYPTED:
        violations.append(
            Violation(
                path, "encryption", "S3_MANAGED, KMS_MANAGED, KMS or DSSE: failure objects hold data", "UNENCRYPTED"
            )
        )
    if props.get("enforce_ssl") is False:
        violations.append(Violation(path, "enforce_ssl", "True for a failure bucket", "False"))
    if props.get("public_read_access"):
        violations.append(Violation(path, "public_read_access", "False for a failure bucket", "True"))
    access = props.get("block_public_access")
    flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    if access is not None and not all(getattr(access, flag, False) is True for flag in flags):
        violations.append(
            Violation(path, "block_public_access", "BLOCK_ALL for a failure bucket (failure objects hold data)", "less")
        )
    ownership = props.get("object_ownership")
    if ownership is not None and ownership != s3.ObjectOwnership.BUCKET_OWNER_ENFORCED:
        violations.append(
            Violation(
                path,
                "object_ownership",
                "BUCKET_OWNER_ENFORCED (ACLs off: the bucket owner owns every failure object)",
                str(getattr(ownership, "name", ownership)),
            )
        )
    return violations


def check_expiration(path: str, expiration: Any) -> list[Violation]:
    if expiration is None:
        return []
    if not isinstance(expiration, cdk.Duration):
        return [
            Violation(path, "expiration", "a Duration of at least 1 day, or None to keep objects", repr(expiration))
        ]
    seconds = expiration.to_seconds()
    if not cdk.Token.is_unresolved(seconds) and seconds < 86_400:
        days = seconds / 86_400
        return [Violation(path, "expiration", "at least 1 day (S3 lifecycle expiry counts whole days)", f"{days} days")]
    return []


class FailureBucket(s3.Bucket):
    """An S3 bucket for the failure objects of Kinesis and DynamoDB Streams mappings: each object is one failed
    batch with its records (``constructs_lib.records.parse_s3_failure_object``), so nothing must be fetched from
    the stream before it trims them.

    Accepts every ``s3.Bucket`` keyword argument; these defaults apply unless given:

    - ``encryption``: ``S3_MANAGED`` (SSE-S3); pass ``encryption_key`` for a customer-managed KMS key (the
      function's role then gets ``kms:GenerateDataKey`` on it).
    - ``enforce_ssl``: ``True``; ``block_public_access``: ``BLOCK_ALL``; ``object_ownership``:
      ``BUCKET_OWNER_ENFORCED`` (ACLs off); ``versioned``: False (objects are written once, never overwritten).
    - ``expiration`` (keyword-only): objects under Lambda's ``aws/lambda/`` prefix expire after 30 days, twice a
      FailureQueue's 14 days, to leave time to redrive them; ``None`` keeps them.

    Rejected, because a failure home must keep every record safe: ``encryption=UNENCRYPTED``,
    ``enforce_ssl=False``, public read access, anything but ``BLOCK_ALL``, ACL-based ownership.

    cdk-nag's ``AwsSolutions-S1`` (server access logs) is acknowledged on the bucket, with the reason: only
    Lambda writes to it through the function's role, which CloudTrail records; give ``server_access_logs_bucket``
    to log anyway (then nothing is acknowledged).
    """

    def __init__(
        self, scope: Construct, id: str, *, expiration: cdk.Duration | None = FAILURE_EXPIRATION, **bucket_props: Any
    ) -> None:
        path = child_path(scope, id)
        raise_if_any(check_failure_bucket_props(path, bucket_props) + check_expiration(path, expiration))

        props: dict[str, Any] = {
            "enforce_ssl": True,
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            **bucket_props,
        }
        if "encryption" not in props:
            props["encryption"] = (
                s3.BucketEncryption.KMS if "encryption_key" in props else s3.BucketEncryption.S3_MANAGED
            )
        if expiration is not None:
            rule = s3.LifecycleRule(id="ExpireFailureObjects", prefix=S3_FAILURE_OBJECT_PREFIX, expiration=expiration)
            props["lifecycle_rules"] = [*props.get("lifecycle_rules", []), rule]
        super().__init__(scope, id, **props)
        self.expiration = expiration
        """How long a failure object is kept (None: until deleted)."""

        if bucket_props.get("server_access_logs_bucket") is None:
            cdk.Validations.of(self.node.default_child or self).acknowledge(
                cdk.Acknowledgment(
                    id="AwsSolutions-S1",
                    reason="Failure bucket: only Lambda writes to it, with the function's role (CloudTrail records "
                    "its calls); operators read and redrive it. Access logs would need a second bucket per home.",
                )
            )
