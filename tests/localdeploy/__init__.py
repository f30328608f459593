"""Local deploy of the sample app: the real `cdk bootstrap` / `cdk deploy` against a moto server, read back with boto3.

- `server`: starts and stops a moto server (with `moto_ext` applied) on 127.0.0.1, on a free port.
- `moto_ext`: the documented bridges for the gaps of moto 5.2.5 that `cdk deploy` runs into.
- `readback`: reads every failure-handling setting back with boto3 and compares it with the synthesized template.
- `cli`: runs the pinned CDK CLI against the local endpoint, with fake credentials only.
- `deployment`: bootstrap, deploy and read-back against one running server.
- `python -m deploy_local` (`make deploy-local`): all of the above, with a readable report.

None of this is part of the constructs_lib package: it is the project's own test tooling.
"""
