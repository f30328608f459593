"""Entry point that cdk.json runs (`python3 -m sample_app`)."""

from sample_app.app import build_app

build_app().synth()
