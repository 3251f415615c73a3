"""Starts moto in server mode (the `moto_server` command) with one repair to
its Step Functions interpreter, so that a state machine's AWS Batch task
(`arn:aws:states:::batch:submitJob.sync`) runs in moto as it runs on AWS.

Why: moto's interpreter is LocalStack's, but moto ships the two methods that
translate a service integration's request and response between the Step
Functions casing (PascalCase: JobName, JobQueue, ...) and the SDK's casing
(camelCase: jobName, jobQueue, ...) as no-ops. A Batch task written as AWS
documents it then reaches boto3 with PascalCase member names (moto's Batch
reads jobDefinition as None and answers 500), and the .sync poller looks for
`JobId` in a response that says `jobId`. This module restores the
translation for the Batch integration only, as LocalStack does it: the input
and output shapes of the operation in botocore's service model name the
members, and moto's own `_to_boto_request` / `_from_boto_response` rename
them. Other integrations keep moto's behaviour, which the conformance
corpus (shared/pipeline/asl/testdata) was recorded against.

Usage: python scripts/moto_server.py [moto_server flags]; set MOTO_PORT to the
port it listens on (moto's interpreter calls back into the server there).
"""

import sys

import botocore.session
from moto.server import main
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch import (
    StateTaskServiceBatch,
)
from moto.stepfunctions.parser.utils import camel_to_snake_case

_SESSION = botocore.session.get_session()


def _operation_model(task, boto_service_name, service_action_name):
    service = task._get_boto_service_name(boto_service_name=boto_service_name)
    action = task._get_boto_service_action(service_action_name=service_action_name)
    model = _SESSION.get_service_model(service)
    names = {camel_to_snake_case(name): name for name in model.operation_names}
    name = names.get(camel_to_snake_case(action))
    if name is None:
        raise ValueError(f"botocore's {service} model has no operation {action}")
    return model.operation_model(name)


def _normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None):
    shape = _operation_model(self, boto_service_name, service_action_name).input_shape
    if shape is not None:
        self._to_boto_request(parameters, shape)


def _normalise_response(self, response, boto_service_name=None, service_action_name=None):
    shape = _operation_model(self, boto_service_name, service_action_name).output_shape
    if shape is not None:
        self._from_boto_response(response, shape)


StateTaskServiceBatch._normalise_parameters = _normalise_parameters
StateTaskServiceBatch._normalise_response = _normalise_response

if __name__ == "__main__":
    sys.exit(main())
