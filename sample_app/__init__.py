"""Sample CDK app: an orders event pipeline wired with constructs_lib."""
