"""Bridges for the gaps of moto 5.2.5 that a real `cdk deploy` of our apps runs into.

Used only by the local deploy (the `python -m tests.localdeploy.server` process) and by the tests of these patches.
Each patch names the gap it bridges and changes as little of moto as it can: it wraps or replaces one method,
or registers one CloudFormation resource model that calls moto's own service backend. The patches were written
against moto 5.2.5's source; `apply()` refuses any other version instead of patching blindly (internals move
between releases, and a later release may have fixed a gap). `restore()` undoes every patch, so a test process
can apply them for a while and leave moto as it was.

The gaps, one patch each (details in each patch's docstring):

- template_url_on_loopback: a TemplateURL on 127.0.0.1 (or [::1]) is parsed as a virtual-hosted S3 URL.
- change_sets_per_stack: change sets are looked up by name across all stacks, a missing one raises
  ValidationError instead of ChangeSetNotFound, and executed ones are kept: the next `cdk deploy` of a stack fails.
- ssm_parameter_previous_value: UsePreviousValue of an SSM-typed parameter (the CDK's BootstrapVersion) passes
  its resolved value as the SSM parameter name, so every re-deploy fails.
- change_set_outputs: a stack created or updated by a change set keeps the Outputs of its first template (none).
- change_set_failures: a resource that fails while a change set executes gives HTTP 500; the retried call then
  reports success, with the rest of the stack never created.
- event_bus_ref: `Ref` to an AWS::Events::EventBus is a Python object, so a rule on a custom bus fails.
- kms_key_policy: a key created by CloudFormation keeps its policy as a dict, so DescribeKey (and every call that
  checks the policy) fails with HTTP 500.
- sqs_queue_update: an AWS::SQS::Queue update applies only VisibilityTimeout and ReceiveMessageWaitTimeSeconds;
  a changed redrive policy (dead-letter queue, maxReceiveCount) or retention keeps its old value.
- function_dead_letter_config: Lambda drops DeadLetterConfig (CloudFormation and API, create and update).
- function_inline_code_update: an AWS::Lambda::Function with inline code (`Code.from_inline`) fails every update.
- event_invoke_config: AWS::Lambda::EventInvokeConfig is skipped by CloudFormation; PutFunctionEventInvokeConfig
  appends instead of overwriting and UpdateFunctionEventInvokeConfig does not merge.
- sns_subscription: AWS::SNS::Subscription is skipped by CloudFormation, so subscriptions (and their redrive
  policies) never exist.
- cloudwatch_alarm: AWS::CloudWatch::Alarm is skipped by CloudFormation, so a stack's alarms never exist.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

SUPPORTED_MOTO_VERSION = "5.2.5"

logger = logging.getLogger(__name__)


class UnsupportedMotoVersion(RuntimeError):
    """The installed moto is not the version the patches were written for."""


def installed_moto_version() -> str:
    return importlib.metadata.version("moto")


def check_moto_version(installed: str | None = None) -> None:
    """Raise UnsupportedMotoVersion unless `installed` (default: the installed moto) is the supported version."""
    installed = installed if installed is not None else installed_moto_version()
    if installed != SUPPORTED_MOTO_VERSION:
        raise UnsupportedMotoVersion(
            f"tests.localdeploy.moto_ext bridges gaps of moto {SUPPORTED_MOTO_VERSION} and was written against its "
            f"source, but moto {installed} is installed. Check each patch in {__name__} against moto {installed}'s "
            f"source (a gap may be fixed, a patched method may have moved), then update SUPPORTED_MOTO_VERSION."
        )


# --------------------------------------------------------------------------------------------------------------
# Bookkeeping: every attribute a patch sets is recorded with its original value, so restore() can undo it.

_MISSING = object()


class _Patcher:
    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        original = vars(owner).get(name, _MISSING)
        self._undo.append(lambda: delattr(owner, name) if original is _MISSING else setattr(owner, name, original))
        setattr(owner, name, value)

    def wrap(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        """Replace the plain function `owner.name` with `make(original_function)`."""
        self.set(owner, name, make(vars(owner)[name]))

    def wrap_classmethod(self, owner: type, name: str, make: Callable[[Any], Any]) -> None:
        """Replace the classmethod `owner.name` with a classmethod of `make(original_function)`."""
        original = vars(owner)[name]
        self.set(owner, name, classmethod(make(original.__func__)))

    def on_restore(self, undo: Callable[[], None]) -> None:
        self._undo.append(undo)

    def restore(self) -> None:
        while self._undo:
            self._undo.pop()()


@dataclass(frozen=True)
class Patch:
    name: str
    gap: str
    install: Callable[[_Patcher], None]
    # The live values this patch stores and returns, as (resource type, setting prefix; "" for every setting):
    # a read-back of them proves the patch, not moto, so the local deploy counts them apart.
    stores: tuple[tuple[str, str], ...] = ()


# --------------------------------------------------------------------------------------------------------------
# template_url_on_loopback

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _install_template_url_on_loopback(patcher: _Patcher) -> None:
    """moto reads a TemplateURL as path-style only if the URL contains "localhost"; anything else is taken as
    virtual-hosted (bucket = first label of the host), so `http://127.0.0.1:PORT/bucket/key` looks for bucket
    "127". Path-style URLs on any loopback host are parsed as such; other URLs go to moto's own parser."""
    from moto.cloudformation import models, responses, utils
    from moto.s3.models import s3_backends

    original = vars(utils)["get_stack_from_s3_url"]

    def get_stack_from_s3_url(template_url: str, account_id: str, partition: str) -> str:
        parts = urlparse(template_url)
        host = parts.hostname or ""
        if host in LOOPBACK_HOSTS:
            bucket, key = unquote(parts.path).lstrip("/").split("/", 1)
        elif host.endswith(".localhost"):
            bucket, key = host.removesuffix(".localhost"), unquote(parts.path).lstrip("/")
        else:
            return original(template_url, account_id=account_id, partition=partition)
        obj = s3_backends[account_id][partition].get_object(bucket, key)
        return obj.value.decode("utf-8")

    # models and responses imported the function by name: patch every module that holds it.
    for module in (utils, models, responses):
        patcher.set(module, "get_stack_from_s3_url", get_stack_from_s3_url)


# --------------------------------------------------------------------------------------------------------------
# change_sets_per_stack


def _change_set_not_found_class() -> type[Exception]:
    from moto.cloudformation.exceptions import CloudFormationError

    class ChangeSetNotFoundException(CloudFormationError):
        # The shape id of the AWS model: moto's serializer turns it into error code "ChangeSetNotFound", HTTP 404.
        code = "ChangeSetNotFoundException"

        def __init__(self, name: str) -> None:
            super().__init__(f"ChangeSet [{name}] does not exist")

    return ChangeSetNotFoundException


def find_change_set(backend: Any, name_or_arn: str | None, stack_name_or_id: str | None) -> Any:
    """The change set with this ARN, or with this name on this stack (as CloudFormation looks them up)."""
    if not name_or_arn:
        return None
    if name_or_arn in backend.change_sets:
        return backend.change_sets[name_or_arn]
    for change_set in backend.change_sets.values():
        if change_set.change_set_name != name_or_arn:
            continue
        if stack_name_or_id is None or stack_name_or_id in (change_set.stack_name, change_set.stack_id):
            return change_set
    return None


def _install_change_sets_per_stack(patcher: _Patcher) -> None:
    """CloudFormation keys a change set by its stack and name, and removes a stack's change sets once one of them
    is executed. moto finds change sets by name only (every `cdk deploy` names its change set
    "cdk-deploy-change-set", so one stack's lookup finds another's), keeps executed ones, and answers a missing
    one with ValidationError "Stack with id ... does not exist". The CDK CLI deletes the old change set before it
    creates a new one and waits for ChangeSetNotFound, so the second `cdk deploy` of a stack failed.
    Describe/Delete/Execute now look up by ARN or by (stack, name); Describe/Execute of a missing change set
    raise ChangeSetNotFoundException; Delete of a missing one is a no-op; executing removes the stack's change
    sets."""
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult, EmptyResult

    not_found = _change_set_not_found_class()

    def describe_change_set(self: Any) -> Any:
        name = self._get_param("ChangeSetName")
        change_set = find_change_set(self.cloudformation_backend, name, self._get_param("StackName"))
        if change_set is None:
            raise not_found(name)
        return ActionResult(change_set)

    def delete_change_set(self: Any) -> Any:
        backend = self.cloudformation_backend
        change_set = find_change_set(backend, self._get_param("ChangeSetName"), self._get_param("StackName"))
        if change_set is not None:
            del backend.change_sets[change_set.change_set_id]
        return EmptyResult()

    def execute_change_set(self: Any) -> Any:
        name = self._get_param("ChangeSetName")
        stack_name = self._get_param("StackName")
        change_set = find_change_set(self.cloudformation_backend, name, stack_name)
        if change_set is None:
            raise not_found(name)
        self.cloudformation_backend.execute_change_set(change_set_name=change_set.change_set_id, stack_name=stack_name)
        return EmptyResult()

    patcher.set(CloudFormationResponse, "describe_change_set", describe_change_set)
    patcher.set(CloudFormationResponse, "delete_change_set", delete_change_set)
    patcher.set(CloudFormationResponse, "execute_change_set", execute_change_set)

    def make_execute(original: Callable[..., None]) -> Callable[..., None]:
        def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
            change_set = find_change_set(self, change_set_name, stack_name)
            original(self, change_set_name, stack_name)
            if change_set is not None:
                for change_set_id in [
                    cs_id for cs_id, cs in self.change_sets.items() if cs.stack_id == change_set.stack_id
                ]:
                    del self.change_sets[change_set_id]

        return execute_change_set

    patcher.wrap(CloudFormationBackend, "execute_change_set", make_execute)


# --------------------------------------------------------------------------------------------------------------
# ssm_parameter_previous_value


def _install_ssm_parameter_previous_value(patcher: _Patcher) -> None:
    """An update that keeps a parameter's previous value (UsePreviousValue, which the CDK CLI sends for the
    BootstrapVersion parameter of every stack) gets the parameter's *resolved* value from moto. For a parameter of
    type AWS::SSM::Parameter::Value<...> that is the SSM parameter's value where its name is expected, and moto
    looks the value up as a name: every re-deploy of a CDK stack fails ("'NoneType' object has no attribute
    'value'"). CloudFormation keeps the value as given (the SSM name) and resolves it again; Stack.stack_parameters,
    which moto uses for previous values, now returns that for SSM-typed parameters."""
    from moto.cloudformation.models import Stack

    original = vars(Stack)["stack_parameters"]

    def stack_parameters(self: Any) -> dict[str, Any]:
        parameters = dict(original.fget(self))
        declared = (self.template_dict or {}).get("Parameters") or {}
        given = self.resource_map.input_parameters or {}
        for key, declaration in declared.items():
            if key in parameters and str(declaration.get("Type", "")).startswith("AWS::SSM::Parameter::"):
                parameters[key] = given.get(key, declaration.get("Default"))
        return parameters

    patcher.set(Stack, "stack_parameters", property(stack_parameters))


# --------------------------------------------------------------------------------------------------------------
# change_set_outputs


def _install_change_set_outputs(patcher: _Patcher) -> None:
    """A stack created by a change set starts with an empty template; executing the change set updates its
    resources and its `template`, but not its outputs, exports or description, which stay those of the empty
    template (DescribeStacks shows no Outputs, so `cdk deploy` prints none and the CDK toolkit stack looks
    incomplete). After an execution the stack's outputs and exports are rebuilt from the executed template."""
    from moto.cloudformation.models import CloudFormationBackend

    def make_execute(original: Callable[..., None]) -> Callable[..., None]:
        def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
            change_set = find_change_set(self, change_set_name, stack_name)
            original(self, change_set_name, stack_name)
            if change_set is None or getattr(change_set, "execution_error", None) is not None:
                return
            stack = self.stacks[change_set.stack_id]
            stack._parse_template()
            stack.description = stack.template_dict.get("Description")
            stack.output_map = stack._create_output_map()
            for name in [name for name, export in self.exports.items() if export.exporting_stack_id == stack.stack_id]:
                del self.exports[name]
            self._validate_export_uniqueness(stack)
            for export in stack.exports:
                self.exports[export.name] = export

        return execute_change_set

    patcher.wrap(CloudFormationBackend, "execute_change_set", make_execute)


# --------------------------------------------------------------------------------------------------------------
# change_set_failures


def _install_change_set_failures(patcher: _Patcher) -> None:
    """When a resource fails while a change set executes, moto lets the exception escape: ExecuteChangeSet answers
    HTTP 500, the SDK retries, and the retry finds nothing left to do (the stack already holds the new template),
    so the deploy "succeeds" with the failed resource and everything after it missing. CloudFormation executes
    asynchronously and reports a failure through the stack's status and events. The failure is now recorded
    the same way: the stack ends in CREATE_FAILED / UPDATE_FAILED (moto rolls nothing back) with an event that
    carries the error, and the CDK CLI reports a failed deployment with that reason."""
    from moto.cloudformation.models import ChangeSet, CloudFormationBackend

    def make_apply(original: Callable[..., None]) -> Callable[..., None]:
        def apply(self: Any) -> None:
            self.execution_error = None
            try:
                original(self)
            except Exception as error:
                logger.exception("change set %s of stack %s failed", self.change_set_name, self.stack_name)
                self.execution_error = error

        return apply

    def make_execute(original: Callable[..., None]) -> Callable[..., None]:
        def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
            change_set = find_change_set(self, change_set_name, stack_name)
            original(self, change_set_name, stack_name)
            error = getattr(change_set, "execution_error", None)
            if error is None:
                return
            status = f"{change_set.change_set_type}_FAILED"
            change_set.execution_status = "EXECUTE_FAILED"
            stack = self.stacks[change_set.stack_id]
            if stack.events and stack.events[-1].resource_status.endswith("_COMPLETE"):
                stack.events.pop()  # moto's "complete" event for the execution that failed
            stack.status = status
            stack._add_stack_event(status, resource_status_reason=f"{type(error).__name__}: {error}")

        return execute_change_set

    patcher.wrap(ChangeSet, "apply", make_apply)
    patcher.wrap(CloudFormationBackend, "execute_change_set", make_execute)


# --------------------------------------------------------------------------------------------------------------
# event_bus_ref


def _install_event_bus_ref(patcher: _Patcher) -> None:
    """`Ref` resolves to a resource's `physical_resource_id`, which moto's EventBus lacks, so the Ref gives the
    Python object itself and `AWS::Events::Rule` with `EventBusName: {Ref: Bus}` fails ("'EventBus' object has no
    attribute 'split'"). CloudFormation's Ref of an event bus is its name."""
    from moto.events.models import EventBus

    patcher.set(EventBus, "physical_resource_id", property(lambda self: self.name))


# --------------------------------------------------------------------------------------------------------------
# kms_key_policy


def _install_kms_key_policy(patcher: _Patcher) -> None:
    """AWS::KMS::Key passes its KeyPolicy (a JSON object in the template) to the KMS backend as a dict, where the
    API stores a JSON string; every call that checks the key policy (DescribeKey, Encrypt, ...) then fails with
    HTTP 500 ("the JSON object must be str ... not dict"). The policy is now stored as the JSON string."""
    from moto.kms.models import Key

    def make_create(original: Callable[..., Any]) -> Callable[..., Any]:
        def create_from_cloudformation_json(
            cls: Any, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any
        ) -> Any:
            properties = cloudformation_json["Properties"]
            if isinstance(properties.get("KeyPolicy"), dict):
                properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
            return original(cls, resource_name, cloudformation_json, *args, **kwargs)

        return create_from_cloudformation_json

    patcher.wrap_classmethod(Key, "create_from_cloudformation_json", make_create)


# --------------------------------------------------------------------------------------------------------------
# sqs_queue_update

# Queue settings an AWS::SQS::Queue update changes in place, with the value a property left out returns to.
QUEUE_UPDATE_DEFAULTS: dict[str, Any] = {
    "DelaySeconds": 0,
    "MessageRetentionPeriod": 345600,
    "ReceiveMessageWaitTimeSeconds": 0,
    "VisibilityTimeout": 30,
    "RedrivePolicy": "",  # no dead-letter queue
}
QUEUE_UPDATE_IF_SET = ("MaximumMessageSize", "RedriveAllowPolicy", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds")


def _install_sqs_queue_update(patcher: _Patcher) -> None:
    """An AWS::SQS::Queue update applies only VisibilityTimeout and ReceiveMessageWaitTimeSeconds: a changed
    RedrivePolicy (dead-letter queue, maxReceiveCount), retention or delay keeps its old value, and a removed one
    is never reset. The update now sets every in-place setting of the template (RedrivePolicy included) and returns
    the ones it leaves out to their defaults (a removed RedrivePolicy removes the dead-letter queue)."""
    from moto.sqs.models import Queue, sqs_backends

    def update_from_cloudformation_json(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        queue = sqs_backends[account_id][region_name].get_queue(original_resource.name)
        attributes = {name: properties.get(name, default) for name, default in QUEUE_UPDATE_DEFAULTS.items()}
        attributes.update({name: properties[name] for name in QUEUE_UPDATE_IF_SET if name in properties})
        attributes["Policy"] = queue.policy  # _set_attributes resets the queue policy unless it is passed
        queue._set_attributes(attributes)
        return queue

    patcher.set(Queue, "update_from_cloudformation_json", classmethod(update_from_cloudformation_json))


# --------------------------------------------------------------------------------------------------------------
# function_dead_letter_config


def _dead_letter_config(value: Any) -> dict[str, str] | None:
    """The function's DeadLetterConfig as Lambda returns it; an empty TargetArn removes it (as in the API)."""
    if isinstance(value, dict) and value.get("TargetArn"):
        return {"TargetArn": value["TargetArn"]}
    return None


def _install_function_dead_letter_config(patcher: _Patcher) -> None:
    """moto's LambdaFunction ignores DeadLetterConfig: CreateFunction and UpdateFunctionConfiguration drop it,
    GetFunctionConfiguration never returns it, and the AWS::Lambda::Function model does not pass it on. The
    function now keeps it (create and update, API and CloudFormation; a CloudFormation update without it removes
    it) and returns it like Lambda does."""
    from moto.awslambda.models import LambdaFunction

    def make_init(original: Callable[..., None]) -> Callable[..., None]:
        def __init__(self: Any, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
            original(self, account_id, spec, *args, **kwargs)
            self.dead_letter_config = _dead_letter_config(spec.get("DeadLetterConfig"))

        return __init__

    def make_get_configuration(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        def get_configuration(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
            config = original(self, *args, **kwargs)
            dead_letter_config = getattr(self, "dead_letter_config", None)
            if dead_letter_config:
                config["DeadLetterConfig"] = dict(dead_letter_config)
            return config

        return get_configuration

    def make_update_configuration(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
            if "DeadLetterConfig" in config_updates:
                self.dead_letter_config = _dead_letter_config(config_updates["DeadLetterConfig"])
            return original(self, config_updates)

        return update_configuration

    def make_create(original: Callable[..., Any]) -> Callable[..., Any]:
        def create_from_cloudformation_json(
            cls: Any, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any
        ) -> Any:
            function = original(cls, resource_name, cloudformation_json, *args, **kwargs)
            function.dead_letter_config = _dead_letter_config(cloudformation_json["Properties"].get("DeadLetterConfig"))
            return function

        return create_from_cloudformation_json

    def make_update(original: Callable[..., Any]) -> Callable[..., Any]:
        def update_from_cloudformation_json(
            cls: Any,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> Any:
            function = original(
                cls,
                original_resource=original_resource,
                new_resource_name=new_resource_name,
                cloudformation_json=cloudformation_json,
                account_id=account_id,
                region_name=region_name,
            )
            function.dead_letter_config = _dead_letter_config(cloudformation_json["Properties"].get("DeadLetterConfig"))
            return function

        return update_from_cloudformation_json

    patcher.wrap(LambdaFunction, "__init__", make_init)
    patcher.wrap(LambdaFunction, "get_configuration", make_get_configuration)
    patcher.wrap(LambdaFunction, "update_configuration", make_update_configuration)
    patcher.wrap_classmethod(LambdaFunction, "create_from_cloudformation_json", make_create)
    patcher.wrap_classmethod(LambdaFunction, "update_from_cloudformation_json", make_update)


# --------------------------------------------------------------------------------------------------------------
# function_inline_code_update


def _install_function_inline_code_update(patcher: _Patcher) -> None:
    """AWS::Lambda::Function with inline code (`Code.ZipFile`, the CDK's `Code.from_inline`) is zipped on create,
    but an update passes the plain source text on as if it were a base64 zip, so every update of such a function
    fails ("Invalid base64-encoded string"). The update now zips the source the same way the create does."""
    import base64

    from moto.awslambda.models import LambdaFunction

    def make_update(original: Callable[..., Any]) -> Callable[..., Any]:
        def update_from_cloudformation_json(
            cls: Any,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> Any:
            code = cloudformation_json["Properties"].get("Code") or {}
            if isinstance(code.get("ZipFile"), str):
                zipped = cls._create_zipfile_from_plaintext_code(code["ZipFile"])
                code["ZipFile"] = base64.b64encode(zipped)
            return original(
                cls,
                original_resource=original_resource,
                new_resource_name=new_resource_name,
                cloudformation_json=cloudformation_json,
                account_id=account_id,
                region_name=region_name,
            )

        return update_from_cloudformation_json

    patcher.wrap_classmethod(LambdaFunction, "update_from_cloudformation_json", make_update)


# --------------------------------------------------------------------------------------------------------------
# CloudFormation resource models added by this module. They implement the part of moto's CloudFormationModel
# interface that its CloudFormation engine calls, without subclassing it: moto registers every subclass for good,
# these are registered through the patched model map only, so restore() removes them again.


class _ExtensionModel:
    cf_resource_type: str
    logical_resource_id: str

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        """Unused: the engine deletes through the instance's `delete`."""


EVENT_INVOKE_CONFIG_SETTINGS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")


class EventInvokeConfigModel(_ExtensionModel):
    """AWS::Lambda::EventInvokeConfig, stored through the Lambda backend's Put/DeleteFunctionEventInvokeConfig
    for its function and qualifier (one configuration per qualifier, as in Lambda; see the patch below)."""

    def __init__(self, account_id: str, region_name: str, function_name: str, qualifier: str) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.function_name = function_name
        self.qualifier = qualifier

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::EventInvokeConfig"

    @property
    def physical_resource_id(self) -> str:
        return f"{self.function_name}:{self.qualifier}"

    @staticmethod
    def _backend(account_id: str, region_name: str) -> Any:
        # The backend moto's Lambda API and AWS::Lambda::Function use (the Docker-free one if so configured).
        from moto.awslambda.utils import get_backend

        return get_backend(account_id, region_name)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> EventInvokeConfigModel:
        properties = cloudformation_json["Properties"]
        config = {key: properties[key] for key in EVENT_INVOKE_CONFIG_SETTINGS if key in properties}
        backend = cls._backend(account_id, region_name)
        backend.put_function_event_invoke_config(properties["FunctionName"], config, properties["Qualifier"])
        return cls(account_id, region_name, properties["FunctionName"], properties["Qualifier"])

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: EventInvokeConfigModel,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> EventInvokeConfigModel:
        properties = cloudformation_json["Properties"]
        if (properties["FunctionName"], properties["Qualifier"]) != (
            original_resource.function_name,
            original_resource.qualifier,
        ):
            original_resource.delete(account_id, region_name)
        # A put overwrites the whole configuration: settings left out of the template return to their defaults.
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.awslambda.exceptions import UnknownEventConfig, UnknownFunctionException

        with contextlib.suppress(UnknownEventConfig, UnknownFunctionException):
            self._backend(account_id, region_name).delete_function_event_invoke_config(
                self.function_name, self.qualifier
            )


def _install_event_invoke_config(patcher: _Patcher) -> None:
    """moto's CloudFormation has no model for AWS::Lambda::EventInvokeConfig and skips it with a warning, so a
    deployed function has no async retry/age/destination settings at all. EventInvokeConfigModel (above) is
    registered for that type. moto's Lambda API ignores the Qualifier and keeps a list per function: a put appended
    a configuration and Get returned the first one (a second put, an update, was invisible), and every qualifier
    shared one configuration, answered with the unqualified FunctionArn. Here configurations are kept per qualifier
    (a `name:qualifier` FunctionName or the Qualifier parameter; $LATEST without either), answered with the
    qualified FunctionArn as Lambda does; Put overwrites and Update changes only the settings it is given."""
    from moto.awslambda.exceptions import UnknownEventConfig
    from moto.awslambda.models import EventInvokeConfig, LambdaBackend
    from moto.awslambda.responses import LambdaResponse

    def target(backend: Any, function_name: str, qualifier: str | None) -> tuple[Any, str]:
        if not function_name.startswith("arn:") and ":" in function_name:
            function_name, qualifier = function_name.split(":", 1)
        elif function_name.startswith("arn:") and function_name.count(":") == 7:
            function_name, qualifier = function_name.rsplit(":", 1)
        fn = backend.get_function(function_name)
        return fn, qualifier or "$LATEST"

    def configs(fn: Any) -> dict[str, Any]:
        if not hasattr(fn, "event_invoke_configs_by_qualifier"):
            fn.event_invoke_configs_by_qualifier = {}
        return fn.event_invoke_configs_by_qualifier

    def store(fn: Any) -> None:
        fn.event_invoke_config = list(configs(fn).values())  # moto's own attribute, kept consistent

    def put_function_event_invoke_config(
        self: Any, function_name: str, config: dict[str, Any], qualifier: str | None = None
    ) -> dict[str, Any]:
        fn, qualifier = target(self, function_name, qualifier)
        event_config = EventInvokeConfig(f"{fn.function_arn}:{qualifier}", fn.last_modified, dict(config))
        configs(fn)[qualifier] = event_config
        store(fn)
        return event_config.response()

    def get_function_event_invoke_config(self: Any, function_name: str, qualifier: str | None = None) -> dict[str, Any]:
        fn, qualifier = target(self, function_name, qualifier)
        if qualifier not in configs(fn):
            raise UnknownEventConfig(f"{fn.function_arn}:{qualifier}")
        return configs(fn)[qualifier].response()

    def update_function_event_invoke_config(
        self: Any, function_name: str, config: dict[str, Any], qualifier: str | None = None
    ) -> dict[str, Any]:
        fn, qualifier = target(self, function_name, qualifier)
        current = configs(fn)[qualifier].config if qualifier in configs(fn) else {}
        return self.put_function_event_invoke_config(fn.function_name, {**current, **config}, qualifier)

    def delete_function_event_invoke_config(self: Any, function_name: str, qualifier: str | None = None) -> None:
        fn, qualifier = target(self, function_name, qualifier)
        if configs(fn).pop(qualifier, None) is None:
            raise UnknownEventConfig(f"{fn.function_arn}:{qualifier}")
        store(fn)

    def list_function_event_invoke_configs(self: Any, function_name: str) -> dict[str, Any]:
        fn, _ = target(self, function_name, None)
        return {"FunctionEventInvokeConfigs": [config.response() for config in configs(fn).values()]}

    for name, method in {
        "put_function_event_invoke_config": put_function_event_invoke_config,
        "get_function_event_invoke_config": get_function_event_invoke_config,
        "update_function_event_invoke_config": update_function_event_invoke_config,
        "delete_function_event_invoke_config": delete_function_event_invoke_config,
        "list_function_event_invoke_configs": list_function_event_invoke_configs,
    }.items():
        patcher.set(LambdaBackend, name, method)

    # The API handlers pass the Qualifier query parameter on (moto's drop it).
    from moto.core.responses import ActionResult

    def put_handler(self: Any) -> Any:
        name, qualifier = unquote(self.path.rsplit("/", 2)[1]), self.querystring.get("Qualifier", [None])[0]
        return ActionResult(self.backend.put_function_event_invoke_config(name, self.json_body, qualifier))

    def get_handler(self: Any) -> Any:
        name, qualifier = unquote(self.path.rsplit("/", 2)[1]), self.querystring.get("Qualifier", [None])[0]
        return ActionResult(self.backend.get_function_event_invoke_config(name, qualifier))

    def update_handler(self: Any) -> str:
        name, qualifier = unquote(self.path.rsplit("/", 2)[1]), self.querystring.get("Qualifier", [None])[0]
        return json.dumps(self.backend.update_function_event_invoke_config(name, self.json_body, qualifier))

    def delete_handler(self: Any) -> Any:
        name, qualifier = unquote(self.path.rsplit("/", 2)[1]), self.querystring.get("Qualifier", [None])[0]
        self.backend.delete_function_event_invoke_config(name, qualifier)
        return 204, {"status": 204}, json.dumps({})

    patcher.set(LambdaResponse, "put_function_event_invoke_config", put_handler)
    patcher.set(LambdaResponse, "get_function_event_invoke_config", get_handler)
    patcher.set(LambdaResponse, "update_function_event_invoke_config", update_handler)
    patcher.set(LambdaResponse, "delete_function_event_invoke_config", delete_handler)
    _register_model(patcher, EventInvokeConfigModel)


# --------------------------------------------------------------------------------------------------------------
# sns_subscription

# Subscription attributes CloudFormation sets, in the order SNS needs them (the filter policy scope first).
SUBSCRIPTION_ATTRIBUTES = (
    "RawMessageDelivery",
    "RedrivePolicy",
    "DeliveryPolicy",
    "FilterPolicyScope",
    "FilterPolicy",
    "SubscriptionRoleArn",
)


def _subscription_attribute(value: Any) -> str:
    """A CloudFormation property value as the SNS API's string attribute."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class SubscriptionModel(_ExtensionModel):
    """AWS::SNS::Subscription, created through the SNS backend's Subscribe and SetSubscriptionAttributes. Its
    physical id (and Ref) is the subscription ARN, as in CloudFormation. An update replaces the subscription."""

    def __init__(self, account_id: str, region_name: str, arn: str) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.arn = arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @staticmethod
    def _backend(account_id: str, region_name: str) -> Any:
        from moto.sns.models import sns_backends

        return sns_backends[account_id][region_name]

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> SubscriptionModel:
        properties = cloudformation_json["Properties"]
        backend = cls._backend(account_id, region_name)
        subscription = backend.subscribe(properties["TopicArn"], properties["Endpoint"], properties["Protocol"])
        for name in SUBSCRIPTION_ATTRIBUTES:
            if name in properties:
                backend.set_subscription_attributes(subscription.arn, name, _subscription_attribute(properties[name]))
        return cls(account_id, region_name, subscription.arn)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: SubscriptionModel,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> SubscriptionModel:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        self._backend(account_id, region_name).unsubscribe(self.arn)


def _install_sns_subscription(patcher: _Patcher) -> None:
    """moto's CloudFormation has no model for AWS::SNS::Subscription and skips it, so a topic's subscribers (and
    each subscription's RedrivePolicy, the dead-letter queue for messages SNS cannot deliver) never exist.
    SubscriptionModel (above) is registered for that type."""
    _register_model(patcher, SubscriptionModel)


# --------------------------------------------------------------------------------------------------------------
# cloudwatch_alarm


def _metric_data_queries(metrics: list[dict[str, Any]] | None) -> list[Any] | None:
    """An alarm's `Metrics` (metric math), as moto's PutMetricAlarm handler builds them from the API request."""
    from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat

    if not metrics:
        return None
    queries = []
    for metric in metrics:
        stat = metric.get("MetricStat") or {}
        metric_stat = None
        if stat.get("Metric", {}).get("MetricName"):
            dimensions = [Dimension(d.get("Name"), d.get("Value")) for d in stat["Metric"].get("Dimensions", [])]
            metric_stat = MetricStat(
                metric=Metric(stat["Metric"]["MetricName"], stat["Metric"].get("Namespace"), dimensions),
                period=stat.get("Period"),
                stat=stat.get("Stat"),
                unit=stat.get("Unit"),
            )
        queries.append(
            MetricDataQuery(
                query_id=metric.get("Id"),
                label=metric.get("Label"),
                period=metric.get("Period"),
                return_data=metric.get("ReturnData"),
                expression=metric.get("Expression"),
                metric_stat=metric_stat,
            )
        )
    return queries


class AlarmModel(_ExtensionModel):
    """AWS::CloudWatch::Alarm (metric alarms, metric math included), stored through the CloudWatch backend's
    PutMetricAlarm. Its physical id (and Ref) is the alarm name, `Fn::GetAtt Arn` its ARN, as in CloudFormation."""

    def __init__(self, account_id: str, region_name: str, name: str, arn: str) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.name = name
        self.arn = arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return self.arn
        return super().get_cfn_attribute(attribute_name)

    @staticmethod
    def _backend(account_id: str, region_name: str) -> Any:
        from moto.cloudwatch.models import cloudwatch_backends

        return cloudwatch_backends[account_id][region_name]

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> AlarmModel:
        p = cloudformation_json["Properties"]
        threshold = p.get("Threshold")
        alarm = cls._backend(account_id, region_name).put_metric_alarm(
            name=p.get("AlarmName") or resource_name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            metric_data_queries=_metric_data_queries(p.get("Metrics")),
            comparison_operator=p.get("ComparisonOperator"),
            evaluation_periods=p.get("EvaluationPeriods"),
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
            period=p.get("Period"),
            threshold=float(threshold) if threshold is not None else None,
            statistic=p.get("Statistic"),
            extended_statistic=p.get("ExtendedStatistic"),
            description=p.get("AlarmDescription"),
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []),
            unit=p.get("Unit"),
            actions_enabled=p.get("ActionsEnabled", True),
            treat_missing_data=p.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=p.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=p.get("ThresholdMetricId"),
        )
        return cls(account_id, region_name, alarm.name, alarm.alarm_arn)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: AlarmModel,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> AlarmModel:
        # Without an AlarmName the alarm keeps its name; PutMetricAlarm overwrites an alarm of the same name.
        properties = cloudformation_json["Properties"]
        name = properties.get("AlarmName") or original_resource.name
        if name != original_resource.name:
            original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        self._backend(account_id, region_name).delete_alarms([self.name])


def _install_cloudwatch_alarm(patcher: _Patcher) -> None:
    """moto's CloudFormation has no model for AWS::CloudWatch::Alarm and skips it, so none of a stack's alarms
    exist. AlarmModel (above) is registered for that type."""
    _register_model(patcher, AlarmModel)


# --------------------------------------------------------------------------------------------------------------
# Model registration: moto's CloudFormation engine finds a model through parsing.get_model_map() (a cached map
# built from CloudFormationModel's subclasses); the patched map adds this module's models to it.

_EXTRA_MODELS: dict[str, type[_ExtensionModel]] = {}


def _register_model(patcher: _Patcher, model: type[_ExtensionModel]) -> None:
    from moto.cloudformation import parsing

    if not _EXTRA_MODELS:
        original = vars(parsing)["get_model_map"]

        def get_model_map() -> dict[str, Any]:
            return {**original(), **_EXTRA_MODELS}

        patcher.set(parsing, "get_model_map", get_model_map)
        patcher.on_restore(_EXTRA_MODELS.clear)
    _EXTRA_MODELS[model.cloudformation_type()] = model


# --------------------------------------------------------------------------------------------------------------

PATCHES: tuple[Patch, ...] = (
    Patch(
        "template_url_on_loopback",
        "TemplateURLs on 127.0.0.1 are parsed as virtual-hosted S3 URLs",
        _install_template_url_on_loopback,
    ),
    Patch(
        "change_sets_per_stack",
        "change sets found by name across stacks, kept after execution; ValidationError instead of "
        "ChangeSetNotFound (the second `cdk deploy` of a stack fails)",
        _install_change_sets_per_stack,
    ),
    Patch(
        "ssm_parameter_previous_value",
        "UsePreviousValue of an SSM-typed parameter (BootstrapVersion) gives its resolved value: re-deploys fail",
        _install_ssm_parameter_previous_value,
    ),
    Patch(
        "change_set_outputs",
        "stacks created or updated by a change set have no Outputs",
        _install_change_set_outputs,
    ),
    Patch(
        "change_set_failures",
        "a resource failing during ExecuteChangeSet gives HTTP 500 and a retry that reports success",
        _install_change_set_failures,
    ),
    Patch(
        "event_bus_ref",
        "Ref to an AWS::Events::EventBus is not its name (rules on custom buses fail)",
        _install_event_bus_ref,
    ),
    Patch(
        "kms_key_policy",
        "AWS::KMS::Key stores its KeyPolicy as a dict (DescribeKey of the key fails with HTTP 500)",
        _install_kms_key_policy,
    ),
    Patch(
        "sqs_queue_update",
        "AWS::SQS::Queue updates ignore RedrivePolicy, retention and delay changes",
        _install_sqs_queue_update,
        # only once a stack was updated: a created queue keeps what moto's own model stored
        stores=(("AWS::SQS::Queue", "RedrivePolicy"), ("AWS::SQS::Queue", "MessageRetentionPeriod")),
    ),
    Patch(
        "function_dead_letter_config",
        "Lambda DeadLetterConfig dropped (CloudFormation and API)",
        _install_function_dead_letter_config,
        stores=(("AWS::Lambda::Function", "DeadLetterConfig"),),
    ),
    Patch(
        "function_inline_code_update",
        "AWS::Lambda::Function updates fail for inline code (ZipFile)",
        _install_function_inline_code_update,
    ),
    Patch(
        "event_invoke_config",
        "AWS::Lambda::EventInvokeConfig ignored by CloudFormation; Put/UpdateFunctionEventInvokeConfig semantics",
        _install_event_invoke_config,
        stores=(("AWS::Lambda::EventInvokeConfig", ""), ("AWS::Lambda::Function", "EventInvokeConfig[")),
    ),
    Patch(
        "sns_subscription",
        "AWS::SNS::Subscription ignored by CloudFormation",
        _install_sns_subscription,
        stores=(("AWS::SNS::Subscription", ""),),
    ),
    Patch(
        "cloudwatch_alarm",
        "AWS::CloudWatch::Alarm ignored by CloudFormation",
        _install_cloudwatch_alarm,
        stores=(("AWS::CloudWatch::Alarm", ""),),
    ),
)


def patch_behind(resource_type: str, setting: str, *, stack_updated: bool) -> str | None:
    """The patch whose stored value a read-back check of `setting` on `resource_type` compares, if any. The
    other patches make the deploy itself work (template URLs, change sets, parameters, Refs) and store no value
    that is read back."""
    for patch in PATCHES:
        if patch.name == "sqs_queue_update" and not stack_updated:
            continue
        for stored_type, prefix in patch.stores:
            if resource_type == stored_type and setting.startswith(prefix):
                return patch.name
    return None


_active: _Patcher | None = None


def is_applied() -> bool:
    return _active is not None


def apply() -> tuple[Patch, ...]:
    """Check the moto version, then apply every patch (once; a second call does nothing). Returns the patches."""
    global _active
    if _active is not None:
        return PATCHES
    check_moto_version()
    patcher = _Patcher()
    try:
        for patch in PATCHES:
            patch.install(patcher)
    except BaseException:
        patcher.restore()
        raise
    _active = patcher
    return PATCHES


def restore() -> None:
    """Undo every patch applied by `apply()`."""
    global _active
    if _active is not None:
        _active.restore()
        _active = None


@contextlib.contextmanager
def applied() -> Iterator[tuple[Patch, ...]]:
    """The patches applied for the duration of the block (left applied if they already were)."""
    already = is_applied()
    patches = apply()
    try:
        yield patches
    finally:
        if not already:
            restore()
