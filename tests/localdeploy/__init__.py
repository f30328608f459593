"""Local deploy of the sample app: the real `cdk bootstrap` / `cdk deploy` against a moto server, then
`constructs_lib.verify` of every stack. Test tooling of this project, not part of the constructs_lib package.

- `server`: starts and stops a moto server (with `moto_ext` applied) on 127.0.0.1, on a free port.
- `moto_ext`: the documented bridges for the gaps of moto 5.2.5 that `cdk deploy` runs into.
- `cli`: runs the pinned CDK CLI against the local endpoint, with fake credentials only.
- `deployment`: bootstrap, deploy and verify against one running server.
- `python -m tests.localdeploy` (`make deploy-local`): all of the above, with a readable report.
"""
